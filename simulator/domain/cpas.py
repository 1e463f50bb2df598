"""CPAS / OCMW medical-aid decisions registered in MediPrima (domain-rules 8).

A decision (the "Carmed" medical card) belongs to a person without health insurance: it names the
CPAS that took it, its validity period, one cover per kind of care with what the CPAS supports,
the doctors allowed to bill it, the SPP IS refund and whether urgent medical aid (AMU/DMH) applies.
Plain data and the few questions the MediPrima rules ask of it; no XML here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

# The MediPrima dates for GPs (docs/rules.md, "MediPrima dates"; S-MEDIPRIMA circular 22/08/2025):
# GPs may bill MediPrima since 1 Oct 2017 (optional), CPAS must register GP decisions from
# 1 Sep 2025 (a decision taken before may keep the old path: bill the CPAS), the CPAS may still be
# billed until 31 Oct 2025, MediPrima is mandatory for registered decisions from 1 Nov 2025.
MEDIPRIMA_GP_OPEN = date(2017, 10, 1)
MEDIPRIMA_GP_START = date(2025, 9, 1)
MEDIPRIMA_TRANSITION_END = date(2025, 10, 31)
MEDIPRIMA_MANDATORY = date(2025, 11, 1)
# "quelques jours (en moyenne moins de quatre jours)" (S-MEDIPRIMA): CAAMI pays accepted
# MediPrima invoices 3 days after the settlement, against 14 for the insurers' eFact.
MEDIPRIMA_PAYMENT_DAYS = 3


class CareKind(StrEnum):
    """The kinds of care a decision may cover (MediPrima `MedicalCover` children)."""

    DOCTOR = "doctor"
    HOSPITALIZATION = "hospitalization"
    AMBULATORY_HOSPITALIZATION = "ambulatory-hospitalization"
    MEDICAL_TRANSPORTATION = "medical-transportation"
    PROSTHESIS = "prosthesis"
    MISCELLANEOUS = "miscellaneous"
    PARAMEDIC = "paramedic"
    PHARMACEUTICAL_DRUG = "pharmaceutical-drug"


class Support(StrEnum):
    """How much of a share the CPAS takes on (`PswcSupport` values)."""

    FULL = "FULL"
    PARTIAL = "PARTIAL"
    NOTHING = "NOTHING"


class DecisionStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"  # registered but suspended: no payment commitment (MediPrima 203)


@dataclass(frozen=True)
class Cpas:
    cbe: str  # 10-digit BCE/KBO enterprise number, valid check digits (domain-rules 2.4)
    ins_code: str  # 5-digit NIS/INS code of the municipality
    name_fr: str
    name_nl: str


@dataclass(frozen=True)
class Cover:
    """One kind of care covered by a decision, with its own validity period."""

    kind: CareKind
    start: date
    end: date | None  # inclusive last day; None = open
    ziv_ami_part: Support  # the part the insurance would normally pay
    patient_part: Support  # the ticket modérateur
    supplement: Support
    patient_part_max: Decimal | None = None  # ceiling when patient_part is PARTIAL
    providers: tuple[str, ...] = ()  # NIHII-11 allowed to bill this cover; empty = anyone

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)

    @property
    def full(self) -> bool:
        return self.ziv_ami_part is Support.FULL and self.patient_part is Support.FULL


@dataclass(frozen=True)
class CpasDecision:
    carmed_number: str  # 12-digit medical-card number
    version: int
    cpas: Cpas
    start: date
    end: date | None
    status: DecisionStatus
    covers: tuple[Cover, ...]
    state_refund: int  # % of medical fees refunded by the SPP IS: 0, 50 or 100 (RefundCode)
    beneficiary_status: str  # "L" legal / "I" illegal stay (BeneficiaryStatus)
    medical_urgency: bool  # urgent medical aid only: the doctor must attest it (MedicalUrgencyInd)
    uma_attestation: str | None = None  # number of the urgent-medical-aid attestation, if made

    def valid_on(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)

    def active_on(self, day: date) -> bool:
        """Valid on `day` and not suspended: the only state that gives a payment commitment."""
        return self.status is DecisionStatus.ACTIVE and self.valid_on(day)

    def cover(self, kind: CareKind) -> Cover | None:
        return next((c for c in self.covers if c.kind is kind), None)

    def allows_provider(self, kind: CareKind, nihii: str) -> bool:
        """The provider may bill this cover (same person: the first 8 NIHII digits agree)."""
        cover = self.cover(kind)
        if cover is None:
            return False
        return not cover.providers or any(p[:8] == nihii[:8] for p in cover.providers)

    @property
    def old_path(self) -> bool:
        """Taken before 1 Sep 2025: the GP may keep billing the CPAS directly, for good (MP-1);
        MediPrima takes the invoice too, GPs could use it since 2017."""
        return self.start < MEDIPRIMA_GP_START


# Municipalities and their NIS codes, for CPAS names; the enterprise numbers are made up.
_MUNICIPALITIES: tuple[tuple[str, str, str], ...] = (
    ("21004", "CPAS de Bruxelles", "OCMW Brussel"),
    ("11002", "CPAS d'Anvers", "OCMW Antwerpen"),
    ("44021", "CPAS de Gand", "OCMW Gent"),
    ("62063", "CPAS de Liège", "OCMW Luik"),
    ("52011", "CPAS de Charleroi", "OCMW Charleroi"),
    ("92094", "CPAS de Namur", "OCMW Namen"),
    ("24062", "CPAS de Louvain", "OCMW Leuven"),
    ("31005", "CPAS de Bruges", "OCMW Brugge"),
)


def make_cbe(eight_digits: int) -> str:
    """A valid 10-digit BCE/KBO number from its first 8 digits (check = 97 - n mod 97)."""
    if not 0 <= eight_digits < 2 * 10**7:  # first digit 0 or 1
        raise ValueError(f"BCE body must be 0..19999999, got {eight_digits}")
    return f"{eight_digits:08d}{97 - eight_digits % 97:02d}"


def make_cpas_list(rng: random.Random) -> tuple[Cpas, ...]:
    """One CPAS per municipality; public bodies' numbers start with 02 [A]."""
    numbers: set[int] = set()
    while len(numbers) < len(_MUNICIPALITIES):
        numbers.add(2_000_000 + rng.randrange(1_000_000))
    return tuple(
        Cpas(make_cbe(number), ins, fr, nl)
        for number, (ins, fr, nl) in zip(sorted(numbers), _MUNICIPALITIES, strict=True)
    )
