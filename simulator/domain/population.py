"""The synthetic population the simulated insurers know: patients, care providers, institutions.

Deterministic from the seed: names come from Faker's nl_BE / fr_BE / de_DE word lists, every
choice from seeded `random.Random` streams. The first patients cycle through `SITUATIONS` so that
every case the rules need exists even in a population of a few dozen people (by construction, not
by chance); the rest are drawn at random. Identities are fixed for a seed (see IDENTITY_EPOCH);
insurability periods, statuses, contracts, CPAS decisions and deaths are anchored on `today`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import cache

from faker.providers.person.de_DE import Provider as _GermanNames
from faker.providers.person.fr_BE import Provider as _FrenchNames
from faker.providers.person.nl_BE import Provider as _DutchNames

from simulator.domain.calendar import shift_years
from simulator.domain.care import (
    HospitalStay,
    Institution,
    InstitutionKind,
    MedicalHouseContract,
    StatusPeriod,
)
from simulator.domain.cpas import (
    MEDIPRIMA_GP_START,
    CareKind,
    Cover,
    Cpas,
    CpasDecision,
    DecisionStatus,
    Support,
    make_cpas_list,
)
from simulator.domain.identifiers import make_nihii, make_niss

# Every case the eTar / MDA / eAttest / MediPrima rules distinguish; patient i < len(SITUATIONS)
# is SITUATIONS[i]. New entries go at the end so that earlier patients keep their situation.
SITUATIONS: tuple[str, ...] = (
    "regular-dmg",  # adult, insured, DMG held by a GP of the population
    "regular",  # adult, insured, no DMG
    "bim-dmg",  # adult BIM (intervention majorée) with DMG, over 24
    "bim",  # adult BIM without DMG, automatic BIM: "no supp" (no supplements allowed)
    "child-bim-dmg",  # BIM child with DMG: 0 EUR share at the GP
    "child",  # child, not BIM, no DMG
    "young-bim-dmg",  # BIM aged 19..24 with DMG: still 0 EUR
    "senior",  # 75 or older, with DMG
    "not-insured",  # insurability period ended before today
    "future-insured",  # insured only from a date after today
    "deceased",  # died a few days ago, period closed at death
    "medical-house",  # under a medical-house flat-rate contract
    "not-in-order",  # insured but not in order (contributions unpaid)
    "chronic",  # chronic-illness status
    "palliative",  # palliative status
    "hospitalised",  # currently in hospital
    "bis",  # identified by a BIS number
    "bim-income",  # BIM granted after an income enquiry: supplements still allowed
    "bim-nursing-home",  # BIM in a nursing home: third-party payment allowed, not mandatory
    "ct-change",  # two periods: CT1/CT2 110/110 then 111/111 (became BIM a few months ago)
    "mutuality-change",  # moved to another union a few months ago: two periods, two insurers
    "many-periods",  # seven periods in five years: MDA answers five (ONLY_FIVE_PERIODS_RETURNED)
    "medical-house-ended",  # flat-rate contract ended: billed per act again
    "mediprima-full",  # CPAS decision, doctor cover full, GP listed: CPAS pays everything
    "mediprima-partial",  # doctor cover with a partial patient share and a 50 % State refund
    "mediprima-uma",  # urgent medical aid only, attestation made (illegal stay)
    "mediprima-uma-missing",  # urgent medical aid only, no attestation yet
    "mediprima-suspended",  # decision suspended: no payment commitment (203)
    "mediprima-expired",  # decision ended: no active decision (201)
    "mediprima-not-listed",  # the population's first GP is not in the decision's list (204)
    "mediprima-cover-inactive",  # decision active, doctor cover ended (206)
    "mediprima-no-doctor-cover",  # decision covers hospital and drugs only (207)
    "mediprima-old-path",  # decision taken before 1 Sep 2025: bill the CPAS directly
)

# National unions with mutuality codes and rough market shares [A]. Solidaris (300) lists the
# affiliations the eFact routing knows (domain-rules 2.5); MediPrima patients go to CAAMI (600).
_MUTUALITIES: dict[str, tuple[str, ...]] = {
    "100": ("116", "120", "131"),
    "200": ("203", "233"),
    "300": ("304", "305", "306", "309", "311", "315", "317", "319", "322", "323", "325"),
    "400": ("403", "407"),
    "500": ("501", "509", "526"),
    "600": ("609",),
    "900": ("900",),
}
UNIONS: tuple[str, ...] = tuple(_MUTUALITIES)
_UNION_WEIGHTS = (40, 6, 28, 5, 18, 2, 1)
MEDIPRIMA_INSURER = "600"
MEDIPRIMA_DESTINATION = "690"  # eFact federation for MediPrima invoices (IFHC) [O]
_LANGUAGES = ("nl", "fr", "de")
_LANGUAGE_WEIGHTS = (58, 40, 2)
# Qualification (last 3 NIHII digits) per provider kind: codes seen in real numbers [A meaning].
_QUALIFICATIONS = {
    "GP": ("003", "004"),
    "SPECIALIST": ("580",),
    "DENTIST": ("001",),
    "PHYSIOTHERAPIST": ("527",),
}
_PROFESSION = {"GP": "PHYSICIAN", "SPECIALIST": "PHYSICIAN"}  # otherwise the kind itself
_PROFESSION_DIGIT = {"DENTIST": "3", "PHYSIOTHERAPIST": "5"}  # otherwise 1, doctor
PROVIDER_KINDS: tuple[str, ...] = ("GP", "SPECIALIST", "DENTIST", "PHYSIOTHERAPIST")
_PROVIDER_WEIGHTS = (55, 25, 12, 8)
# Belgian bed-index letters for the ward of a stay [A].
_WARDS = ("C", "D", "E", "G", "M")
_CITIES = ("Bruxelles", "Anvers", "Gand", "Liège", "Charleroi", "Namur", "Louvain", "Bruges")


@dataclass(frozen=True)
class InsurabilityPeriod:
    start: date
    end: date | None  # inclusive last day; None = open
    mutuality: str  # 3-digit mutuality code, first digit = union
    ct1: str  # 3-digit CT1; last digit 1 = BIM (domain-rules 3.2)
    ct2: str
    registration_number: str
    in_order: bool = True  # False: member not in order (eTar 170)

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class Patient:
    ssin: str
    first_name: str
    last_name: str
    sex: str  # "male" | "female"
    birth_date: date
    death_date: date | None
    insurer: str  # union code 100..600, 900 (the current one; 600 for MediPrima patients)
    mutuality: str
    registration_number: str
    periods: tuple[InsurabilityPeriod, ...]
    bim: bool  # BIM on the current period
    dmg_holder: str | None  # NIHII-11 of the GP holding the DMG
    medical_house: bool  # under a medical-house contract today
    chronic: bool
    palliative: bool
    third_party_payment_mandatory: bool
    hospitalised: bool
    language: str  # "fr" | "nl" | "de"
    situation: str = "random"  # which SITUATIONS entry built this patient
    bim_basis: str | None = None  # "automatic" (no supp) | "income" (after an income enquiry)
    nursing_home: bool = False
    medical_house_contract: MedicalHouseContract | None = None  # the latest one, even if ended
    chronic_status: StatusPeriod | None = None
    palliative_status: StatusPeriod | None = None
    hospital_stay: HospitalStay | None = None
    cpas_decisions: tuple[CpasDecision, ...] = ()  # MediPrima: only for people not insured

    def age_on(self, day: date) -> int:
        years = day.year - self.birth_date.year
        return years - ((day.month, day.day) < (self.birth_date.month, self.birth_date.day))

    def period_on(self, day: date) -> InsurabilityPeriod | None:
        return next((period for period in self.periods if period.covers(day)), None)

    def decision_on(self, day: date) -> CpasDecision | None:
        """The CPAS decision valid on `day` (suspended or not), else None."""
        return next((d for d in self.cpas_decisions if d.valid_on(day)), None)

    @property
    def no_supplement(self) -> bool:
        """MDA "no supp": automatic BIM, no supplement on reimbursable codes (domain-rules 1.2)."""
        return self.bim and self.bim_basis == "automatic"

    @property
    def mediprima(self) -> bool:
        return bool(self.cpas_decisions)


@dataclass(frozen=True)
class Provider:
    nihii: str
    ssin: str
    first_name: str
    last_name: str
    kind: str  # "GP" | "SPECIALIST" | "DENTIST" | "PHYSIOTHERAPIST"
    profession: str  # certificate profession: "PHYSICIAN" | "DENTIST" | "PHYSIOTHERAPIST"
    qualification: str  # last 3 digits of the NIHII


@dataclass(frozen=True)
class Population:
    seed: int
    patients: tuple[Patient, ...]
    providers: tuple[Provider, ...]
    institutions: tuple[Institution, ...] = ()
    cpas: tuple[Cpas, ...] = ()
    _by_ssin: dict[str, Patient] = field(init=False, repr=False, compare=False)
    _by_person: dict[str, Provider] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_ssin", {p.ssin: p for p in self.patients})
        # Keyed on the 8-digit person number: the qualification may differ from the one sent.
        object.__setattr__(self, "_by_person", {p.nihii[:8]: p for p in self.providers})

    def find(self, ssin: str) -> Patient | None:
        return self._by_ssin.get(ssin)

    def provider(self, nihii: str) -> Provider | None:
        return self._by_person.get(nihii[:8]) if len(nihii) == 11 else None

    def institution(self, nihii: str) -> Institution | None:
        return next((i for i in self.institutions if i.nihii[:8] == nihii[:8]), None)

    def unknown_ssin(self, index: int = 0) -> str:
        """A valid NISS that belongs to nobody in the population; same index -> same number."""
        rng = random.Random(f"unknown-{self.seed}-{index}")
        while True:
            born = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 60))
            ssin = make_niss(born, rng.randint(1, 998))
            if ssin not in self._by_ssin and all(p.ssin != ssin for p in self.providers):
                return ssin

    def situation(self, name: str) -> Patient:
        """The first patient built for a SITUATIONS entry (KeyError if there is none)."""
        for patient in self.patients:
            if patient.situation == name:
                return patient
        raise KeyError(f"no patient in situation {name!r} (population of {len(self.patients)})")

    def where(
        self,
        *,
        bim: bool | None = None,
        insurer: str | None = None,
        dmg_holder: str | None = None,
        medical_house: bool | None = None,
        deceased: bool | None = None,
        insured_on: date | None = None,
        predicate: Callable[[Patient], bool] | None = None,
    ) -> tuple[Patient, ...]:
        """Patients matching every criterion given (None = not filtered)."""

        def keep(p: Patient) -> bool:
            return (
                (bim is None or p.bim == bim)
                and (insurer is None or p.insurer == insurer)
                and (dmg_holder is None or _same_person(p.dmg_holder, dmg_holder))
                and (medical_house is None or p.medical_house == medical_house)
                and (deceased is None or (p.death_date is not None) == deceased)
                and (insured_on is None or p.period_on(insured_on) is not None)
                and (predicate is None or predicate(p))
            )

        return tuple(p for p in self.patients if keep(p))

    def providers_of_kind(self, kind: str) -> tuple[Provider, ...]:
        return tuple(p for p in self.providers if p.kind == kind)


def _same_person(holder: str | None, nihii: str) -> bool:
    return holder is not None and holder[:8] == nihii[:8]


@dataclass(frozen=True)
class _Names:
    male: tuple[str, ...]
    female: tuple[str, ...]
    last: tuple[str, ...]


@cache
def _names(language: str) -> _Names:
    """Faker's name lists for a language, read once (far faster than a Faker call per person)."""
    source = {"nl": _DutchNames, "fr": _FrenchNames, "de": _GermanNames}[language]
    # Faker's stubs do not declare the per-locale word lists.
    male = source.first_names_male  # type: ignore[attr-defined]
    female = source.first_names_female  # type: ignore[attr-defined]
    return _Names(tuple(male), tuple(female), tuple(source.last_names))


# Identities (NISS, names, birth dates, NIHII) are drawn relative to this fixed date, the start of
# the e-billing obligation, so that the same seed gives the same people whatever the clock says;
# only insurability periods, statuses, decisions and deaths follow `today`.
IDENTITY_EPOCH = date(2025, 9, 1)


def _days(day: date, offset: int) -> date:
    return day + timedelta(days=offset)


@dataclass(frozen=True)
class _Identity:
    ssin: str
    first_name: str
    last_name: str
    sex: str
    birth_date: date
    language: str


def _age_at_epoch(situation: str, rng: random.Random) -> int:
    """Ages narrow enough to hold for years on the simulator clock: children stay under 18 until
    2031, the young BIM stay <= 24 until 2029."""
    ranges = {
        "child-bim-dmg": (3, 12),
        "child": (1, 12),
        "young-bim-dmg": (19, 20),
        "senior": (75, 95),
        "bim-nursing-home": (78, 95),
        "bim-dmg": (26, 70),
        "random": (0, 95),
    }
    if situation.startswith("mediprima"):
        return rng.randint(20, 60)
    low, high = ranges.get(situation, (25, 74))
    return rng.randint(low, high)


class _Identities:
    """The identity stream: one generator that sees nothing but identity draws, so that the
    people of a seed never depend on `today` or on how their situation is built."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.ssins: set[str] = set()
        self.person_numbers: set[str] = set()

    def pick(self, items: Sequence[str], weights: Sequence[int] | None = None) -> str:
        return self.rng.choices(items, weights)[0] if weights else self.rng.choice(items)

    def person(self, age: int, *, bis: bool = False) -> _Identity:
        rng = self.rng
        language = self.pick(_LANGUAGES, _LANGUAGE_WEIGHTS)
        names = _names(language)
        sex = "male" if rng.random() < 0.5 else "female"
        first = self.pick(names.male if sex == "male" else names.female)
        born = shift_years(IDENTITY_EPOCH, -age) - timedelta(days=rng.randrange(1, 360))
        while True:
            # The day counter is odd for men, even for women.
            serial = rng.randrange(1 if sex == "male" else 2, 998, 2)
            ssin = make_niss(born, serial, bis=bis)
            if ssin not in self.ssins:
                self.ssins.add(ssin)
                return _Identity(ssin, first, self.pick(names.last), sex, born, language)

    def person_number(self, profession_digit: str) -> str:
        while True:
            base = profession_digit + f"{self.rng.randrange(100000):05d}"
            if base not in self.person_numbers:
                self.person_numbers.add(base)
                return base

    def provider(self, kind: str) -> Provider:
        base = self.person_number(_PROFESSION_DIGIT.get(kind, "1"))
        qualification = self.pick(_QUALIFICATIONS[kind])
        # Numbers issued since 2019 use the modulo-89 check digits (domain-rules 2.2).
        modulus = 89 if self.rng.random() < 0.1 else 97
        nihii = make_nihii(base, qualification, modulus=modulus)
        who = self.person(self.rng.randint(28, 66))
        profession = _PROFESSION.get(kind, kind)
        return Provider(
            nihii, who.ssin, who.first_name, who.last_name, kind, profession, qualification
        )


def _institutions(seed: int, identities: _Identities) -> tuple[Institution, ...]:
    """A few hospitals (INAMI numbers starting with 7) and medical houses (9 [A])."""
    rng = random.Random(f"{seed}:institutions")
    found: list[Institution] = []
    for city in _CITIES[:4]:
        number = make_nihii(identities.person_number("7"), "000")
        found.append(Institution(number, InstitutionKind.HOSPITAL, f"Hôpital {city}"))
    for city in _CITIES[4:] + _CITIES[:2]:
        number = make_nihii(identities.person_number("9"), "000")
        street = rng.choice(_names("fr").last)
        found.append(
            Institution(number, InstitutionKind.MEDICAL_HOUSE, f"Maison médicale {street} {city}")
        )
    return tuple(found)


@dataclass(frozen=True)
class _World:
    """What a patient's facets may point to."""

    today: date
    gps: tuple[Provider, ...]
    hospitals: tuple[Institution, ...]
    houses: tuple[Institution, ...]
    cpas: tuple[Cpas, ...]
    outsider_gp: str  # a valid GP NIHII outside the population, for decision lists


class _Facets:
    """Everything about one patient but the identity, from its own generator (seed, index)."""

    def __init__(self, seed: int, index: int, world: _World, situation: str) -> None:
        self.rng = random.Random(f"{seed}:patient:{index}")
        self.world = world
        self.today = world.today
        self.situation = situation
        self.index = index

    def insurer(self) -> tuple[str, str]:
        rng = self.rng
        if self.situation == "random":
            union = rng.choices(UNIONS, _UNION_WEIGHTS)[0]
        else:  # every union among the first patients, whatever the population size
            union = UNIONS[self.index % len(UNIONS)]
        return union, rng.choice(_MUTUALITIES[union])

    def registration(self) -> str:
        return f"{self.rng.randrange(10**11):011d}"

    def periods(
        self, born: date, death: date | None, mutuality: str, registration: str, bim: bool
    ) -> tuple[InsurabilityPeriod, ...]:
        rng, today, situation = self.rng, self.today, self.situation
        start = max(born, shift_years(today, -rng.randint(1, 15)))
        end: date | None = death
        ct = "111" if bim else "110"
        in_order = situation != "not-in-order"
        if situation == "not-insured":
            end = _days(today, -rng.randint(5, 40))
        elif situation == "future-insured":
            start = _days(today, rng.randint(5, 40))
        elif situation in ("ct-change", "mutuality-change"):
            change = _days(today, -rng.randint(30, 150))
            before_mutuality, before_registration, before_ct = mutuality, registration, ct
            if situation == "ct-change":
                before_ct = "110"
            else:
                other = rng.choice([u for u in UNIONS if u != mutuality[0] + "00"])
                before_mutuality = rng.choice(_MUTUALITIES[other])
                before_registration = self.registration()
            return (
                InsurabilityPeriod(
                    start,
                    _days(change, -1),
                    before_mutuality,
                    before_ct,
                    before_ct,
                    before_registration,
                ),
                InsurabilityPeriod(change, None, mutuality, ct, ct, registration),
            )
        elif situation == "many-periods":
            # Contiguous periods of ~8 months, the last one open; CT changes each time [A].
            kinds = ("110", "120", "130")
            first = shift_years(today, -5) + timedelta(days=rng.randint(20, 60))
            cuts = [first + timedelta(days=240 * k) for k in range(7)]
            return tuple(
                InsurabilityPeriod(
                    cut,
                    _days(cuts[k + 1], -1) if k + 1 < len(cuts) else None,
                    mutuality,
                    kinds[k % 3],
                    kinds[k % 3],
                    registration,
                )
                for k, cut in enumerate(cuts)
            )
        return (InsurabilityPeriod(start, end, mutuality, ct, ct, registration, in_order),)

    def bim(self) -> tuple[bool, str | None]:
        situation, rng = self.situation, self.rng
        if situation == "random":
            bim = rng.random() < 0.18
            return bim, (rng.choice(("automatic", "income")) if bim else None)
        if situation in ("bim-income", "ct-change"):
            return True, "income"
        if "bim" in situation:
            return True, "automatic"
        return False, None

    def dmg_holder(self) -> str | None:
        situation, rng, gps = self.situation, self.rng, self.world.gps
        if situation == "random":
            wanted = rng.random() < 0.7
        else:
            wanted = "dmg" in situation or situation in ("senior", "bim-nursing-home")
        return rng.choice(gps).nihii if wanted and gps else None

    def medical_house(self) -> MedicalHouseContract | None:
        situation, rng, today = self.situation, self.rng, self.today
        houses = self.world.houses
        if not houses:
            return None
        if situation == "random":
            if rng.random() >= 0.04:
                return None
        elif situation not in ("medical-house", "medical-house-ended"):
            return None
        start = shift_years(today, -rng.randint(1, 8))
        end = _days(today, -rng.randint(30, 200)) if situation == "medical-house-ended" else None
        disciplines = ("medical", "nurse", "kine") if rng.random() < 0.7 else ("medical", "nurse")
        return MedicalHouseContract(rng.choice(houses).nihii, start, end, disciplines)

    def chronic(self) -> StatusPeriod | None:
        chronic = self.situation == "chronic" or (
            self.situation == "random" and self.rng.random() < 0.1
        )
        if not chronic:
            return None
        # From 1 January of a past year: the status is granted per calendar year.
        return StatusPeriod(date(self.today.year - self.rng.randint(1, 6), 1, 1))

    def palliative(self) -> StatusPeriod | None:
        if self.situation != "palliative":
            return None
        return StatusPeriod(_days(self.today, -self.rng.randint(5, 60)))

    def hospital_stay(self) -> HospitalStay | None:
        hospitals = self.world.hospitals
        if self.situation != "hospitalised" or not hospitals:
            return None
        rng = self.rng
        admitted = _days(self.today, -rng.randint(1, 10))
        return HospitalStay(rng.choice(hospitals).nihii, admitted, None, rng.choice(_WARDS))

    def cpas_decisions(self) -> tuple[CpasDecision, ...]:
        situation = self.situation
        if not situation.startswith("mediprima"):
            return ()
        rng, today, world = self.rng, self.today, self.world
        kind = situation.removeprefix("mediprima-")
        start = _days(today, -rng.randint(20, 60))
        end: date | None = _days(today, rng.randint(60, 300))
        if kind == "expired":
            start, end = _days(today, -rng.randint(300, 400)), _days(today, -rng.randint(10, 60))
        elif kind == "old-path":
            start, end = _days(MEDIPRIMA_GP_START, -rng.randint(30, 90)), None
        doctors = self._allowed_doctors(listed=kind != "not-listed")
        patient_part = Support.PARTIAL if kind == "partial" else Support.FULL
        doctor = Cover(
            CareKind.DOCTOR,
            start,
            _days(today, -rng.randint(5, 15)) if kind == "cover-inactive" else end,
            Support.FULL,
            patient_part,
            Support.NOTHING,
            Decimal("4.00") if kind == "partial" else None,
            doctors,
        )
        hospital = Cover(
            CareKind.HOSPITALIZATION, start, end, Support.FULL, Support.FULL, Support.NOTHING
        )
        drugs = Cover(
            CareKind.PHARMACEUTICAL_DRUG,
            start,
            end,
            Support.FULL,
            Support.PARTIAL,
            Support.NOTHING,
            Decimal("10.00"),
        )
        covers = (hospital, drugs) if kind == "no-doctor-cover" else (doctor, hospital, drugs)
        urgent = kind in ("uma", "uma-missing")
        return (
            CpasDecision(
                carmed_number=f"{rng.randrange(10**11, 10**12)}",
                version=rng.randint(1, 3),
                cpas=rng.choice(world.cpas),
                start=start,
                end=end,
                status=DecisionStatus.SUSPENDED if kind == "suspended" else DecisionStatus.ACTIVE,
                covers=covers,
                state_refund=50 if kind == "partial" else 100,
                beneficiary_status="I" if urgent else "L",
                medical_urgency=urgent,
                uma_attestation=f"{rng.randrange(10**11, 10**12)}" if kind == "uma" else None,
            ),
        )

    def _allowed_doctors(self, *, listed: bool) -> tuple[str, ...]:
        """The population's first GP (plus one at random) when listed; otherwise GPs other than
        the first, or a doctor outside the population."""
        gps = self.world.gps
        if listed:
            if not gps:
                return (self.world.outsider_gp,)
            return tuple(dict.fromkeys((gps[0].nihii, self.rng.choice(gps).nihii)))
        others = [gp.nihii for gp in gps[1:]]
        return (self.rng.choice(others),) if others else (self.world.outsider_gp,)


def _patient(identity: _Identity, facets: _Facets) -> Patient:
    situation, today = facets.situation, facets.today
    mediprima = situation.startswith("mediprima")
    if mediprima:  # not insured: CAAMI handles MediPrima for the SPP IS
        insurer, mutuality, registration = MEDIPRIMA_INSURER, MEDIPRIMA_DESTINATION, ""
    else:
        insurer, mutuality = facets.insurer()
        registration = facets.registration()
    bim, bim_basis = facets.bim()
    holder = None if mediprima else facets.dmg_holder()
    death = _days(today, -facets.rng.randint(3, 30)) if situation == "deceased" else None
    periods = (
        ()
        if mediprima
        else facets.periods(identity.birth_date, death, mutuality, registration, bim)
    )
    contract = facets.medical_house()
    # A medical house keeps its members' DMG itself: no GP of the population holds it.
    in_house = contract is not None and contract.covers(today)
    dmg_holder = None if in_house else holder
    chronic = facets.chronic()
    palliative = facets.palliative()
    stay = facets.hospital_stay()
    nursing_home = situation == "bim-nursing-home"
    return Patient(
        ssin=identity.ssin,
        first_name=identity.first_name,
        last_name=identity.last_name,
        sex=identity.sex,
        birth_date=identity.birth_date,
        death_date=death,
        insurer=insurer,
        mutuality=mutuality,
        registration_number=registration,
        periods=periods,
        bim=bim,
        dmg_holder=dmg_holder,
        medical_house=in_house,
        chronic=chronic is not None,
        palliative=palliative is not None,
        # GPs must apply third-party payment for BIM patients, except in nursing homes and on
        # home visits where it is allowed but not mandatory (domain-rules 1.2).
        third_party_payment_mandatory=bim and not nursing_home,
        hospitalised=stay is not None,
        language=identity.language,
        situation=situation,
        bim_basis=bim_basis,
        nursing_home=nursing_home,
        medical_house_contract=contract,
        chronic_status=chronic,
        palliative_status=palliative,
        hospital_stay=stay,
        cpas_decisions=facets.cpas_decisions(),
    )


def build_population(seed: int, patients: int, providers: int, today: date) -> Population:
    """Build `patients` patients and `providers` providers, identical for the same arguments.

    The first providers are a GP, a specialist, a dentist and a physiotherapist; the first
    patients cover every entry of SITUATIONS; DMG holders and the doctors named in CPAS decisions
    are GPs of this population.
    """
    if patients < 0 or providers < 0:
        raise ValueError("population sizes must not be negative")
    identities = _Identities(seed)
    staff = tuple(
        identities.provider(
            PROVIDER_KINDS[i]
            if i < len(PROVIDER_KINDS)
            else identities.pick(PROVIDER_KINDS, _PROVIDER_WEIGHTS)
        )
        for i in range(providers)
    )
    institutions = _institutions(seed, identities)
    outsider = make_nihii(identities.person_number("1"), "003")
    cpas = make_cpas_list(random.Random(f"{seed}:cpas"))
    world = _World(
        today=today,
        gps=tuple(p for p in staff if p.kind == "GP"),
        hospitals=tuple(i for i in institutions if i.kind is InstitutionKind.HOSPITAL),
        houses=tuple(i for i in institutions if i.kind is InstitutionKind.MEDICAL_HOUSE),
        cpas=cpas,
        outsider_gp=outsider,
    )
    people = []
    for index in range(patients):
        situation = SITUATIONS[index] if index < len(SITUATIONS) else "random"
        identity = identities.person(
            _age_at_epoch(situation, identities.rng), bis=situation == "bis"
        )
        people.append(_patient(identity, _Facets(seed, index, world, situation)))
    return Population(seed, tuple(people), staff, institutions, cpas)
