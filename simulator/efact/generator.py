"""Valid and deliberately faulty 920000 files from the synthetic population.

Deterministic from the seed: the same spec and population give the same bytes. Exactly
round(rate * invoices) invoices carry one fault each, at positions drawn from the seed; the
returned manifest says which record should be rejected with which code, so tests (and QA) can
check that the checker finds every fault.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import BinaryIO

from simulator.domain import nomenclature
from simulator.domain.identifiers import is_valid_nihii, is_valid_niss, same_person
from simulator.domain.population import Patient, Population, Provider
from simulator.efact.checks import months_before
from simulator.efact.writer import FileHeader, Invoice, InvoiceFileWriter, Service

# fault kind -> the code the checker must return on the faulty record 50 (domain-rules 6.5)
FAULTS: dict[str, str] = {
    "niss": "500802",
    "nomenclature": "500402",
    "future": "500510",
    "old": "500503",
    "amount": "501940",
    "provider": "501502",
    "checksum": "509902",
}
_CODES = ("0101032", "0101076", "0103132")  # GP consultations and a home visit
_WINDOW_DAYS = 40  # services fall within the last 40 days: inside the two-month window


@dataclass(frozen=True)
class Spec:
    invoices: int
    error_rate: float = 0.0  # 0.02 = 2 % of invoices carry one fault
    seed: int = 1
    today: date = date(2026, 1, 15)
    insurer: str | None = None  # only patients of this union (100, 200 ...); None = all
    sending_number: int = 1
    faults: tuple[str, ...] = tuple(FAULTS)  # the kinds to draw from


@dataclass(frozen=True)
class InjectedFault:
    invoice: int  # 0-based invoice position in the file
    record_index: int  # the record 50 that must be rejected
    kind: str
    code: str


def _eligible(population: Population, spec: Spec) -> list[Patient]:
    """Patients alive, insured and in order over the whole service window."""
    first = spec.today - timedelta(days=_WINDOW_DAYS)
    keep = []
    for patient in population.patients:
        if spec.insurer is not None and patient.insurer != spec.insurer:
            continue
        if patient.death_date is not None or patient.mediprima:
            continue
        start, end = patient.period_on(first), patient.period_on(spec.today)
        if start is None or start is not end or not start.in_order:
            continue
        keep.append(patient)
    if not keep:
        raise ValueError(f"no insured patient for insurer {spec.insurer} on {spec.today}")
    return keep


def _bad_niss(niss: str) -> str:
    for delta in range(1, 97):
        candidate = niss[:9] + f"{(int(niss[9:]) + delta) % 100:02d}"
        if not is_valid_niss(candidate):
            return candidate
    raise AssertionError("unreachable")  # pragma: no cover


def _bad_nihii(nihii: str) -> str:
    for delta in range(1, 97):
        candidate = nihii[:6] + f"{(int(nihii[6:8]) + delta) % 100:02d}" + nihii[8:]
        if not is_valid_nihii(candidate):
            return candidate
    raise AssertionError("unreachable")  # pragma: no cover


def _service(patient: Patient, provider: Provider, code: str, day: date) -> Service:
    dmg = patient.dmg_holder is not None and same_person(patient.dmg_holder, provider.nihii)
    price = nomenclature.price(code, patient, provider.kind, day, dmg)
    return Service(code, day, patient.ssin, provider.nihii,
                   int(price.reimbursement * 100), int(price.patient_fee * 100))


def _faulty(service: Service, kind: str, today: date) -> Service:
    if kind == "niss":
        return replace(service, niss=_bad_niss(service.niss))
    if kind == "nomenclature":
        return replace(service, code=service.code[:6] + str((int(service.code[6]) + 1) % 10))
    if kind == "future":
        return replace(service, day=today + timedelta(days=5))
    if kind == "old":
        return replace(service, day=months_before(today, 3))
    if kind == "amount":
        return replace(service, amount=service.amount + 1)
    if kind == "provider":
        return replace(service, provider=_bad_nihii(service.provider))
    if kind == "checksum":
        return replace(service, corrupt_checksum=True)
    raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULTS)}")


def _plan(population: Population, spec: Spec) -> list[Patient]:
    rng = random.Random(f"{spec.seed}:patients")
    patients = _eligible(population, spec)
    chosen = [patients[rng.randrange(len(patients))] for _ in range(spec.invoices)]
    # Files list invoices by ascending destination mutuality (201812).
    chosen.sort(key=lambda p: _destination(p, spec.today))
    return chosen


def _destination(patient: Patient, today: date) -> str:
    period = patient.period_on(today)
    return period.mutuality if period is not None else patient.mutuality


def generate(out: BinaryIO, population: Population, spec: Spec) -> list[InjectedFault]:
    """Write a 920000 to `out`; return the faults injected (empty when error_rate is 0)."""
    if not 0 <= spec.error_rate <= 1:
        raise ValueError(f"error rate {spec.error_rate} is not between 0 and 1")
    gps = population.providers_of_kind("GP")
    if not gps:
        raise ValueError("the population has no GP to bill the services")
    rng = random.Random(f"{spec.seed}:services")
    faulty = set(
        random.Random(f"{spec.seed}:faults").sample(
            range(spec.invoices), round(spec.error_rate * spec.invoices)
        )
    )
    head = FileHeader(
        reference=f"{spec.today:%Y%m%d}{spec.seed % 1_000_000:06d}",
        sending_number=spec.sending_number,
        third_party=gps[0].nihii,
        created=spec.today,
        year=spec.today.year,
        month=spec.today.month,
    )
    writer = InvoiceFileWriter(out, head)
    writer.open()
    manifest: list[InjectedFault] = []
    for number, patient in enumerate(_plan(population, spec)):
        provider = gps[rng.randrange(len(gps))]
        services = [
            _service(patient, provider, rng.choice(_CODES),
                     spec.today - timedelta(days=rng.randint(1, _WINDOW_DAYS)))
            for _ in range(rng.randint(1, 3))
        ]
        if number in faulty:
            kind = rng.choice(spec.faults)
            services[0] = _faulty(services[0], kind, spec.today)
            # record 20 comes next, then this invoice's first 50
            manifest.append(InjectedFault(number, writer.index + 2, kind, FAULTS[kind]))
        period = patient.period_on(spec.today)
        mutuality = period.mutuality if period is not None else patient.mutuality
        writer.invoice(Invoice(
            niss=patient.ssin, sex="1" if patient.sex == "male" else "2",
            mutuality=mutuality, destination=mutuality, number=number + 1,
            services=tuple(services), reference=f"INV{number + 1:08d}",
        ))
    writer.close()
    return manifest

