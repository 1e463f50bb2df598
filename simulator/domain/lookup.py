"""Finding patients by what a tester needs for a case: filters and situation flags.

Pure functions over the population; the `world` command and the admin API print what they return.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

from simulator.domain.population import Patient

# Short flags shown in listings, in this order, each with what it means.
FLAGS: dict[str, str] = {
    "INSURED": "insurability period covers the date",
    "BIM": "intervention majorée on the current period",
    "NOSUPP": "automatic BIM: no supplements (MDA 'no supp')",
    "TP": "third-party payment mandatory at the GP",
    "DMG": "global medical file held by a GP",
    "MM": "medical-house flat-rate contract on the date",
    "CHRONIC": "chronic-illness status",
    "PALLIATIVE": "palliative status",
    "HOSP": "in hospital on the date",
    "NURSING": "lives in a nursing home",
    "DECEASED": "died on or before the date",
    "NOTINORDER": "insured but not in order",
    "PERIODS>1": "several insurability periods",
    "CPAS": "has a CPAS decision (MediPrima)",
    "CPAS-ACTIVE": "CPAS decision active on the date",
    "UMA": "urgent medical aid only",
}


def flags(patient: Patient, day: date) -> tuple[str, ...]:
    """The FLAGS that hold for `patient` on `day`, in FLAGS order."""
    period = patient.period_on(day)
    decision = patient.decision_on(day)
    held = {
        "INSURED": period is not None,
        "BIM": patient.bim,
        "NOSUPP": patient.no_supplement,
        "TP": patient.third_party_payment_mandatory,
        "DMG": patient.dmg_holder is not None,
        "MM": _covers(patient.medical_house_contract, day),
        "CHRONIC": _covers(patient.chronic_status, day),
        "PALLIATIVE": _covers(patient.palliative_status, day),
        "HOSP": _covers(patient.hospital_stay, day),
        "NURSING": patient.nursing_home,
        "DECEASED": patient.death_date is not None and patient.death_date <= day,
        "NOTINORDER": period is not None and not period.in_order,
        "PERIODS>1": len(patient.periods) > 1,
        "CPAS": patient.mediprima,
        "CPAS-ACTIVE": decision is not None and decision.active_on(day),
        "UMA": any(d.medical_urgency for d in patient.cpas_decisions),
    }
    return tuple(name for name in FLAGS if held[name])


class _Dated(Protocol):
    def covers(self, day: date) -> bool: ...


def _covers(fact: _Dated | None, day: date) -> bool:
    return fact is not None and fact.covers(day)


@dataclass(frozen=True)
class PatientQuery:
    """Criteria a patient must all meet; None (or empty) means "not filtered"."""

    situation: str | None = None
    insurer: str | None = None
    mutuality: str | None = None
    dmg_holder: str | None = None  # NIHII-11; the first 8 digits name the GP
    flags: frozenset[str] = frozenset()  # every FLAGS name listed must hold
    without: frozenset[str] = frozenset()  # no FLAGS name listed may hold
    min_age: int | None = None
    max_age: int | None = None

    def __post_init__(self) -> None:
        unknown = sorted((self.flags | self.without) - FLAGS.keys())
        if unknown:
            raise ValueError(f"unknown flag {unknown[0]!r}; known: {', '.join(FLAGS)}")

    def matches(self, patient: Patient, day: date) -> bool:
        if self.situation is not None and patient.situation != self.situation:
            return False
        if self.insurer is not None and patient.insurer != self.insurer:
            return False
        if self.mutuality is not None and patient.mutuality != self.mutuality:
            return False
        if self.dmg_holder is not None and (
            patient.dmg_holder is None or patient.dmg_holder[:8] != self.dmg_holder[:8]
        ):
            return False
        age = patient.age_on(day)
        if (self.min_age is not None and age < self.min_age) or (
            self.max_age is not None and age > self.max_age
        ):
            return False
        if self.flags or self.without:
            held = set(flags(patient, day))
            return self.flags <= held and not (self.without & held)
        return True
