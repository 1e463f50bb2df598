"""Patients and providers described as plain JSON-ready dicts, the way `world show` prints
them and the admin API serves them (so that both say the same)."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any

from simulator.domain.lookup import flags
from simulator.domain.population import Patient, Population, Provider


def plain(value: Any) -> Any:
    """Dataclasses, dates, decimals and enums as JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not f.name.startswith("_")
        }
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    return value


def patient_summary(patient: Patient, day: date) -> dict[str, Any]:
    return {
        "ssin": patient.ssin,
        "name": f"{patient.first_name} {patient.last_name}",
        "age": patient.age_on(day),
        "sex": patient.sex,
        "insurer": patient.insurer,
        "mutuality": patient.mutuality,
        "situation": patient.situation,
        "flags": list(flags(patient, day)),
    }


def patient_record(patient: Patient, day: date, population: Population) -> dict[str, Any]:
    """Everything about one patient, grouped the way the MemberData facets are."""
    period = patient.period_on(day)
    holder = population.provider(patient.dmg_holder) if patient.dmg_holder else None
    contract, stay = patient.medical_house_contract, patient.hospital_stay
    house = population.institution(contract.house) if contract else None
    hospital = population.institution(stay.hospital) if stay else None
    decision = patient.decision_on(day)
    return {
        "date": day.isoformat(),
        **patient_summary(patient, day),
        "birth_date": patient.birth_date.isoformat(),
        "language": patient.language,
        "registration_number": patient.registration_number or None,
        "death_date": plain(patient.death_date),
        "insurability": {
            "current_period": plain(period) if period else None,
            "periods": plain(patient.periods),
        },
        "bim": {
            "bim": patient.bim,
            "basis": patient.bim_basis,
            "no_supplement": patient.no_supplement,
            "third_party_payment_mandatory": patient.third_party_payment_mandatory,
            "nursing_home": patient.nursing_home,
        },
        "dmg_holder": _person(holder) if holder else patient.dmg_holder,
        "medical_house": (
            {**plain(contract), "name": house.name if house else None} if contract else None
        ),
        "chronic_status": plain(patient.chronic_status),
        "palliative_status": plain(patient.palliative_status),
        "hospital_stay": (
            {**plain(stay), "name": hospital.name if hospital else None} if stay else None
        ),
        "cpas_decision_active": decision is not None and decision.active_on(day),
        "cpas_decisions": plain(patient.cpas_decisions),
    }


def _person(provider: Provider) -> dict[str, Any]:
    return {
        "nihii": provider.nihii,
        "name": f"{provider.first_name} {provider.last_name}",
        "kind": provider.kind,
    }


def provider_record(provider: Provider, day: date, population: Population) -> dict[str, Any]:
    person = provider.nihii[:8]
    dmg = [p.ssin for p in population.patients if p.dmg_holder and p.dmg_holder[:8] == person]
    listed = [
        p.ssin
        for p in population.patients
        for d in p.cpas_decisions
        if any(n[:8] == person for c in d.covers for n in c.providers)
    ]
    return {
        "date": day.isoformat(),
        "provider": plain(provider),
        "dmg_patients": dmg,
        "listed_in_cpas_decisions_of": sorted(set(listed)),
    }
