"""Valid and deliberately faulty 920000 files from the synthetic population.

Deterministic from the seed: the same spec and population give the same bytes. A file is what
a doctor's software sends since 1 Sep 2025: one doctor (the third party, who performed every
service) and one insurer (every patient of one union), each patient's services on distinct
days, so that nothing in it is a duplicate or a non-cumulable pair (docs/rules.md "eFact").
`Spec.mixed` writes the files the insurer refuses instead: every union, every GP.

Exactly round(rate * invoices) invoices carry one fault each, at positions drawn from the seed;
the returned manifest says which record should be rejected with which code, so tests (and QA)
can check that the checker finds every fault. `FAULTS` are found by the record checks alone;
`HISTORY_FAULTS` by the insurer's ledger when the file is processed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import BinaryIO

from simulator.domain import nomenclature
from simulator.domain.cpas import CareKind, CpasDecision
from simulator.domain.identifiers import is_valid_nihii, is_valid_niss, same_person
from simulator.domain.mediprima_invoicing import MEDIPRIMA_FEDERATION
from simulator.domain.mediprima_invoicing import prices as mediprima_prices
from simulator.domain.population import Patient, Population, Provider
from simulator.efact.checks import months_before
from simulator.efact.writer import (
    FileHeader,
    Invoice,
    InvoiceFileWriter,
    MediprimaBeneficiary,
    Service,
)

# fault kind -> the code the checker must return on the faulty record 50 (domain-rules 6.5)
FAULTS: dict[str, str] = {
    "niss": "500802",
    "nomenclature": "500402",
    "future": "500510",
    "old": "500503",
    "amount": "501940",
    "provider": "501502",
    "checksum": "509902",
    "share": "502742",  # the patient share above the tariff's
    "gnotion": "504940",  # zone 16 = 4 naming a GP who does not hold the DMG (zone 49)
    "supplement": "502742",  # a wrong consultation followed by its night supplement (500119)
    "mutuality": "500742",  # a known patient billed at another mutuality of the union (zone 7)
}
# Found against the insurer's history (ledger), not by the record checks: the first service
# billed twice in its invoice; a home visit the day of the consultation (same GP).
HISTORY_FAULTS: dict[str, str] = {"duplicate": "502255", "cumul": "500444"}
_CODES = ("0101032", "0101076", "0103132")  # GP consultations and a home visit
_SUPPLEMENT = {"0101032": "0102432", "0101076": "0102476", "0103132": "0103095"}
_WINDOW_DAYS = 40  # services fall within the last 40 days: inside the two-month window


@dataclass(frozen=True)
class Spec:
    invoices: int
    error_rate: float = 0.0  # 0.02 = 2 % of invoices carry one fault
    seed: int = 1
    today: date = date(2026, 1, 15)
    # Only patients of this union (100, 200 ...); None: the union with the most patients.
    insurer: str | None = None
    sending_number: int = 1
    faults: tuple[str, ...] = tuple(FAULTS)  # the kinds to draw from
    mediprima: bool = False  # a MediPrima file to CAAMI (690): patients under a CPAS decision
    doctor: str | None = None  # NIHII-11 of the GP whose file it is; None: the first GP
    # Deliberately mixed: patients of every union (B201803 for the others' invoices) and
    # services of every GP in the first GP's file (R501503).
    mixed: bool = False
    # Patients (NISS) billed in the first invoices whatever their situation: a conformance
    # case's patient (not in order: 500540, medical house: 500450, docs/rules.md "eFact").
    patients: tuple[str, ...] = ()


@dataclass(frozen=True)
class InjectedFault:
    invoice: int  # 0-based invoice position in the file
    record_index: int  # the record 50 that must be rejected
    kind: str
    code: str


def _eligible(population: Population, spec: Spec) -> list[Patient]:
    """Patients alive, insured and in order over the whole service window, not under a
    medical-house flat rate (500450), of the file's union unless `spec.mixed`."""
    first = spec.today - timedelta(days=_WINDOW_DAYS)
    keep = []
    for patient in population.patients:
        if patient.death_date is not None or patient.mediprima:
            continue
        start, end = patient.period_on(first), patient.period_on(spec.today)
        if start is None or start is not end or not start.in_order:
            continue
        house = patient.medical_house_contract
        if house is not None and (house.covers(first) or house.covers(spec.today)):
            continue
        keep.append(patient)
    union = spec.insurer
    if union is None and not spec.mixed and keep:
        counts: dict[str, int] = {}
        for patient in keep:
            counts[patient.insurer] = counts.get(patient.insurer, 0) + 1
        union = max(sorted(counts), key=lambda u: counts[u])
    if union is not None:
        keep = [patient for patient in keep if patient.insurer == union]
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


def _faulty_services(
    services: list[Service], kind: str, spec: Spec, patient: Patient, population: Population
) -> tuple[list[Service], int]:
    """The invoice's services with one fault of `kind`, and the position of the faulty one."""
    first = services[0]
    if kind == "duplicate":  # the same consultation again: the copy is the duplicate
        return [first, *services[1:], first], len(services)
    if kind == "supplement":  # its supplement follows the wrong consultation (500119)
        extra = _service(patient, population.provider(first.provider) or _walk_in(first),
                         _SUPPLEMENT[first.code], first.day)
        return [_faulty(first, "share", spec.today), extra, *services[1:]], 0
    if kind == "cumul":  # another consultation or visit the same day: not cumulable
        other = "0103132" if first.code != "0103132" else "0101032"
        extra = _service(patient, population.provider(first.provider) or _walk_in(first),
                         other, first.day)
        return [first, extra, *services[1:]], 1
    if kind == "mutuality":  # zone 7 of its 50: another mutuality of the same union
        known = first.mutuality or _destination(patient, spec.today)
        others = sorted({
            _destination(p, spec.today) for p in population.patients
            if p.insurer == patient.insurer and _destination(p, spec.today) != known
        })  # fmt: skip
        wrong = others[0] if others else f"{int(known) % 100 + 1:03d}"[-3:]
        return [replace(first, mutuality=wrong), *services[1:]], 0
    if kind == "gnotion":  # a colleague named as DMG holder who is not the patient's
        other = next(gp.nihii for gp in population.providers_of_kind("GP")
                     if gp.nihii[:8] != first.provider[:8]
                     and (patient.dmg_holder or "")[:8] != gp.nihii[:8])  # fmt: skip
        return [replace(first, norm="4", auxiliary=other), *services[1:]], 0
    return [_faulty(first, kind, spec.today), *services[1:]], 0


def _walk_in(service: Service) -> Provider:
    return Provider(service.provider, "", "", "", "GP", "PHYSICIAN", service.provider[8:])


def _faulty(service: Service, kind: str, today: date) -> Service:
    if kind == "share":
        return replace(service, share=service.share + 100)
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
    raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(_ALL_FAULTS)}")


_ALL_FAULTS = {**FAULTS, **HISTORY_FAULTS}


def _plan(population: Population, spec: Spec) -> list[Patient]:
    rng = random.Random(f"{spec.seed}:patients")
    patients = _eligible(population, spec)
    # The patients the spec names come first, whatever their situation (a case's patient).
    named = []
    for ssin in spec.patients[: spec.invoices]:
        found = population.find(ssin)
        if found is None:
            raise ValueError(f"no patient {ssin} in the population")
        named.append(found)
    chosen = named + [
        patients[rng.randrange(len(patients))] for _ in range(spec.invoices - len(named))
    ]
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
    unknown = [kind for kind in spec.faults if kind not in _ALL_FAULTS]
    if unknown:
        raise ValueError(f"unknown fault kind {unknown[0]!r}; known: {', '.join(_ALL_FAULTS)}")
    if spec.mediprima:
        return _generate_mediprima(out, population, spec)
    gps = population.providers_of_kind("GP")
    if not gps:
        raise ValueError("the population has no GP to bill the services")
    doctor = gps[0]
    if spec.doctor is not None:
        found = population.provider(spec.doctor)
        if found is None:
            raise ValueError(f"no provider {spec.doctor} in the population")
        doctor = found
    rng = random.Random(f"{spec.seed}:services")
    faulty = set(
        random.Random(f"{spec.seed}:faults").sample(
            range(spec.invoices), round(spec.error_rate * spec.invoices)
        )
    )
    head = FileHeader(
        reference=f"{spec.today:%Y%m%d}{spec.seed % 1_000_000:06d}",
        sending_number=spec.sending_number,
        third_party=doctor.nihii,
        created=spec.today,
        year=spec.today.year,
        month=spec.today.month,
    )
    writer = InvoiceFileWriter(out, head)
    writer.open()
    manifest: list[InjectedFault] = []
    days_used: dict[str, set[int]] = {}  # patient -> days back already billed in this file
    for number, patient in enumerate(_plan(population, spec)):
        provider = gps[rng.randrange(len(gps))] if spec.mixed else doctor
        used = days_used.setdefault(patient.ssin, set())
        services = []
        # A named patient (a case's) has one consultation: its rejection is one record.
        count = rng.randint(1, 3)
        for _ in range(1 if patient.ssin in spec.patients else count):
            back = rng.randint(1, _WINDOW_DAYS)
            # One service a day per patient: two would be a duplicate or not cumulable (the
            # ledger's 502255/500444); beyond 40 services a patient gets repeats.
            for _ in range(_WINDOW_DAYS):
                if back not in used:
                    break
                back = back % _WINDOW_DAYS + 1
            used.add(back)
            day = spec.today - timedelta(days=back)
            services.append(_service(patient, provider, rng.choice(_CODES), day))
        if number in faulty:
            kind = rng.choice(spec.faults)
            services, position = _faulty_services(services, kind, spec, patient, population)
            # record 20 comes next, then this invoice's 50s
            manifest.append(
                InjectedFault(number, writer.index + 2 + position, kind, _ALL_FAULTS[kind])
            )
        period = patient.period_on(spec.today)
        mutuality = period.mutuality if period is not None else patient.mutuality
        writer.invoice(Invoice(
            niss=patient.ssin, sex="1" if patient.sex == "male" else "2",
            mutuality=mutuality, destination=mutuality, number=number + 1,
            services=tuple(services), reference=f"INV{number + 1:08d}",
        ))
    writer.close()
    return manifest



# -- MediPrima (CAAMI, 690): rules in domain.mediprima_invoicing, docs/rules.md ----------------


def _mediprima_plan(
    population: Population, spec: Spec
) -> list[tuple[Patient, CpasDecision, tuple[Provider, ...], date]]:
    """Patients whose decision pays a listed GP from `first` to yesterday (AMU attested)."""
    found = []
    yesterday = spec.today - timedelta(days=1)
    for patient in population.patients:
        decision = patient.decision_on(yesterday)
        cover = decision.cover(CareKind.DOCTOR) if decision is not None else None
        if decision is None or cover is None or patient.death_date is not None:
            continue
        first = max(decision.start, cover.start, spec.today - timedelta(days=_WINDOW_DAYS))
        doctors = tuple(
            gp for gp in population.providers_of_kind("GP")
            if decision.allows_provider(CareKind.DOCTOR, gp.nihii)
        )  # fmt: skip
        usable = decision.active_on(first) and cover.covers(first) and cover.covers(yesterday)
        attested = not decision.medical_urgency or decision.uma_attestation is not None
        if usable and attested and doctors and first <= yesterday:
            found.append((patient, decision, doctors, first))
    if not found:
        raise ValueError(f"no MediPrima patient billable on {spec.today}")
    return found


def _generate_mediprima(out: BinaryIO, population: Population, spec: Spec) -> list[InjectedFault]:
    plan = _mediprima_plan(population, spec)
    rng = random.Random(f"{spec.seed}:services")
    gps = population.providers_of_kind("GP")
    head = FileHeader(
        reference=f"{spec.today:%Y%m%d}{spec.seed % 1_000_000:06d}",
        sending_number=spec.sending_number, third_party=gps[0].nihii, created=spec.today,
        year=spec.today.year, month=spec.today.month,
    )  # fmt: skip
    writer = InvoiceFileWriter(out, head)
    writer.open()
    for number in range(spec.invoices):
        patient, decision, doctors, first = plan[rng.randrange(len(plan))]
        provider = doctors[rng.randrange(len(doctors))]
        span = (spec.today - timedelta(days=1) - first).days
        services = []
        for _ in range(rng.randint(1, 3)):
            day = first + timedelta(days=rng.randint(0, span))
            code = rng.choice(_CODES)
            unit = mediprima_prices(code, patient, provider.kind, day, decision)
            services.append(Service(code, day, patient.ssin, provider.nihii, unit.amount,
                                    unit.share))  # fmt: skip
        writer.invoice(Invoice(
            niss=patient.ssin, sex="1" if patient.sex == "male" else "2",
            mutuality=MEDIPRIMA_FEDERATION, destination=MEDIPRIMA_FEDERATION,
            number=number + 1, services=tuple(services), reference=f"INV{number + 1:08d}",
            mediprima=MediprimaBeneficiary(
                decision.carmed_number, decision.version, decision.cpas.cbe,
                decision.medical_urgency, decision.uma_attestation or "",
            ),
        ))  # fmt: skip
    writer.close()
    return []
