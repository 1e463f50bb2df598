"""Care facts an insurer keeps about a member besides insurability (MemberData facets, 3.2):
status periods (chronic illness, palliative), medical-house contracts, hospital stays, and the
institutions they point to. Plain data; the population builds them, the rules read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class InstitutionKind(StrEnum):
    HOSPITAL = "hospital"
    MEDICAL_HOUSE = "medical-house"


@dataclass(frozen=True)
class Institution:
    nihii: str  # 8-digit INAMI number padded with 000 to 11 digits (domain-rules 2.3)
    kind: InstitutionKind
    name: str


@dataclass(frozen=True)
class StatusPeriod:
    """A status held from `start` to `end` (inclusive; None = still held)."""

    start: date
    end: date | None = None

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class MedicalHouseContract:
    """Flat-rate (forfait) contract: the house is paid per member, not per act."""

    house: str  # NIHII-11 of the medical house
    start: date
    end: date | None
    # Disciplines under the flat rate: "medical", "nurse", "kine" (GENINS flags).
    disciplines: tuple[str, ...] = ("medical", "nurse", "kine")

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class HospitalStay:
    hospital: str  # NIHII-11 of the hospital
    admission: date
    discharge: date | None  # None = still in hospital
    service: str  # bed index letter of the ward: C surgery, D internal medicine, ... [A]

    def covers(self, day: date) -> bool:
        return self.admission <= day and (self.discharge is None or day <= self.discharge)
