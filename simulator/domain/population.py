"""The synthetic population the simulated insurers know: patients and care providers.

Deterministic from the seed: names come from Faker's nl_BE / fr_BE / de_DE word lists, every
choice from one `random.Random(seed)`. The first patients cycle through `SITUATIONS` so that every
case the rules need exists even in a population of a few dozen people (by construction, not by
chance); the rest are drawn at random. Identities are fixed for a seed (see IDENTITY_EPOCH);
insurability periods and deaths are anchored on `today` (the simulator clock).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache

from faker.providers.person.de_DE import Provider as _GermanNames
from faker.providers.person.fr_BE import Provider as _FrenchNames
from faker.providers.person.nl_BE import Provider as _DutchNames

from simulator.domain.identifiers import make_nihii, make_niss

# Every case the eTar / MDA rules distinguish; patient i < len(SITUATIONS) is SITUATIONS[i].
SITUATIONS: tuple[str, ...] = (
    "regular-dmg",  # adult, insured, DMG held by a GP of the population
    "regular",  # adult, insured, no DMG
    "bim-dmg",  # adult BIM (intervention majorée) with DMG, over 24
    "bim",  # adult BIM without DMG
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
)

# National unions with illustrative mutuality codes and rough market shares [A].
_MUTUALITIES: dict[str, tuple[str, ...]] = {
    "100": ("116", "120", "131"),
    "200": ("203", "233"),
    "300": ("306", "317", "319"),
    "400": ("403", "407"),
    "500": ("501", "509", "526"),
    "600": ("609",),
    "900": ("900",),
}
_UNION_WEIGHTS = (40, 6, 28, 5, 18, 2, 1)
_LANGUAGES = ("nl", "fr", "de")
_LANGUAGE_WEIGHTS = (58, 40, 2)
# Qualification (last 3 NIHII digits) per provider kind: codes seen in real numbers [A meaning].
_QUALIFICATIONS = {"GP": ("003", "004"), "SPECIALIST": ("580",), "DENTIST": ("001",)}
_PROVIDER_KINDS = ("GP", "SPECIALIST", "DENTIST")
_PROVIDER_WEIGHTS = (60, 25, 15)


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
    insurer: str  # union code 100..600, 900
    mutuality: str
    registration_number: str
    periods: tuple[InsurabilityPeriod, ...]
    bim: bool
    dmg_holder: str | None  # NIHII-11 of the GP holding the DMG
    medical_house: bool
    chronic: bool
    palliative: bool
    third_party_payment_mandatory: bool
    hospitalised: bool
    language: str  # "fr" | "nl" | "de"
    situation: str = "random"  # which SITUATIONS entry built this patient

    def age_on(self, day: date) -> int:
        years = day.year - self.birth_date.year
        return years - ((day.month, day.day) < (self.birth_date.month, self.birth_date.day))

    def period_on(self, day: date) -> InsurabilityPeriod | None:
        return next((period for period in self.periods if period.covers(day)), None)


@dataclass(frozen=True)
class Provider:
    nihii: str
    ssin: str
    first_name: str
    last_name: str
    kind: str  # "GP" | "SPECIALIST" | "DENTIST"
    profession: str  # "PHYSICIAN" | "DENTIST" (certificate profession)
    qualification: str  # last 3 digits of the NIHII


@dataclass(frozen=True)
class Population:
    seed: int
    patients: tuple[Patient, ...]
    providers: tuple[Provider, ...]
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
                and (dmg_holder is None or p.dmg_holder == dmg_holder)
                and (medical_house is None or p.medical_house == medical_house)
                and (deceased is None or (p.death_date is not None) == deceased)
                and (insured_on is None or p.period_on(insured_on) is not None)
                and (predicate is None or predicate(p))
            )

        return tuple(p for p in self.patients if keep(p))

    def providers_of_kind(self, kind: str) -> tuple[Provider, ...]:
        return tuple(p for p in self.providers if p.kind == kind)


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
# only insurability periods and deaths follow `today`.
IDENTITY_EPOCH = date(2025, 9, 1)


class _Builder:
    def __init__(self, seed: int, today: date) -> None:
        self.rng = random.Random(seed)
        self.today = today
        self.epoch = IDENTITY_EPOCH
        self.ssins: set[str] = set()
        self.person_numbers: set[str] = set()

    def _pick(self, items: Sequence[str], weights: Sequence[int] | None = None) -> str:
        return self.rng.choices(items, weights)[0] if weights else self.rng.choice(items)

    def birth_date(self, age: int) -> date:
        """A birth date that makes the person `age` years old at the identity epoch."""
        latest = self._shift_years(self.epoch, -age)
        return latest - timedelta(days=self.rng.randrange(1, 360))

    def _shift_years(self, day: date, years: int) -> date:
        try:
            return day.replace(year=day.year + years)
        except ValueError:  # 29 February
            return day.replace(year=day.year + years, day=28)

    def identity(self, age: int, *, bis: bool = False) -> tuple[str, str, str, str, date, str]:
        language = self._pick(_LANGUAGES, _LANGUAGE_WEIGHTS)
        names = _names(language)
        sex = "male" if self.rng.random() < 0.5 else "female"
        first = self._pick(names.male if sex == "male" else names.female)
        born = self.birth_date(age)
        while True:
            # The day counter is odd for men, even for women.
            serial = self.rng.randrange(1 if sex == "male" else 2, 998, 2)
            ssin = make_niss(born, serial, bis=bis)
            if ssin not in self.ssins:
                self.ssins.add(ssin)
                return ssin, first, self._pick(names.last), sex, born, language

    def provider(self, kind: str) -> Provider:
        profession_digit = "3" if kind == "DENTIST" else "1"
        while True:
            base = profession_digit + f"{self.rng.randrange(100000):05d}"
            if base not in self.person_numbers:
                self.person_numbers.add(base)
                break
        qualification = self._pick(_QUALIFICATIONS[kind])
        # Numbers issued since 2019 use the modulo-89 check digits (domain-rules 2.2).
        modulus = 89 if self.rng.random() < 0.1 else 97
        nihii = make_nihii(base, qualification, modulus=modulus)
        ssin, first, last, _, _, _ = self.identity(self.rng.randint(28, 66))
        profession = "DENTIST" if kind == "DENTIST" else "PHYSICIAN"
        return Provider(nihii, ssin, first, last, kind, profession, qualification)

    def patient(self, situation: str, gps: Sequence[Provider]) -> Patient:
        rng, today = self.rng, self.today
        age = {
            # Ages at the epoch, narrow enough to hold for years on the simulator clock:
            # children stay under 18 until 2031, the young BIM stay <= 24 until 2029.
            "child-bim-dmg": rng.randint(3, 12),
            "child": rng.randint(1, 12),
            "young-bim-dmg": rng.randint(19, 20),
            "senior": rng.randint(75, 95),
            "bim-dmg": rng.randint(26, 70),
        }.get(situation, rng.randint(0, 95) if situation == "random" else rng.randint(25, 74))
        ssin, first, last, sex, born, language = self.identity(age, bis=situation == "bis")
        insurer = self._pick(tuple(_MUTUALITIES), _UNION_WEIGHTS)
        mutuality = self._pick(_MUTUALITIES[insurer])
        registration = f"{rng.randrange(10**11):011d}"

        if situation == "random":
            bim = rng.random() < 0.18
            has_dmg = rng.random() < 0.7
            medical_house = rng.random() < 0.04
        else:
            bim = "bim" in situation
            has_dmg = "dmg" in situation or situation == "senior"
            medical_house = situation == "medical-house"
        dmg_holder = self._pick([gp.nihii for gp in gps]) if has_dmg and gps else None

        death = today - timedelta(days=rng.randint(3, 30)) if situation == "deceased" else None
        start = max(born, self._shift_years(today, -rng.randint(1, 15)))
        end: date | None = death
        if situation == "not-insured":
            end = today - timedelta(days=rng.randint(5, 40))
        elif situation == "future-insured":
            start = today + timedelta(days=rng.randint(5, 40))
        ct = "111" if bim else "110"
        periods = (
            InsurabilityPeriod(
                start, end, mutuality, ct, ct, registration, in_order=situation != "not-in-order"
            ),
        )
        return Patient(
            ssin=ssin,
            first_name=first,
            last_name=last,
            sex=sex,
            birth_date=born,
            death_date=death,
            insurer=insurer,
            mutuality=mutuality,
            registration_number=registration,
            periods=periods,
            bim=bim,
            dmg_holder=dmg_holder,
            medical_house=medical_house,
            chronic=situation == "chronic" or (situation == "random" and rng.random() < 0.1),
            palliative=situation == "palliative",
            # GPs must apply third-party payment for BIM patients (domain-rules 1.2).
            third_party_payment_mandatory=bim,
            hospitalised=situation == "hospitalised",
            language=language,
            situation=situation,
        )


def build_population(seed: int, patients: int, providers: int, today: date) -> Population:
    """Build `patients` patients and `providers` providers, identical for the same arguments.

    The first providers are a GP, a specialist and a dentist; the first patients cover every
    entry of SITUATIONS; DMG holders are GPs of this population.
    """
    if patients < 0 or providers < 0:
        raise ValueError("population sizes must not be negative")
    builder = _Builder(seed, today)
    staff = tuple(
        builder.provider(
            _PROVIDER_KINDS[i]
            if i < len(_PROVIDER_KINDS)
            else builder._pick(_PROVIDER_KINDS, _PROVIDER_WEIGHTS)
        )
        for i in range(providers)
    )
    gps = tuple(p for p in staff if p.kind == "GP")
    people = tuple(
        builder.patient(SITUATIONS[i] if i < len(SITUATIONS) else "random", gps)
        for i in range(patients)
    )
    return Population(seed, people, staff)
