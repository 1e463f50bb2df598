"""A small nomenclature table and its pricing rules (domain-rules section 7).

Every amount here is approximate [A]: the official 2025 fee tables could not be read. The table
only holds what the simulated eTar needs: GP consultations and visits, night/weekend supplements,
a specialist consultation, dental codes, the DMG code and the medical-house code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.domain.population import Patient

CENT = Decimal("0.01")
# Dental key value N on 1 Jan 2025 [C]; N-coded acts cost N times their coefficient.
DENTAL_KEY_VALUE_N = Decimal("3.409091")


class Category(Enum):
    GP_CONSULTATION = "gp-consultation"
    GP_VISIT = "gp-visit"
    SUPPLEMENT = "supplement"  # night/weekend/holiday: no patient share since 2011
    SPECIALIST_CONSULTATION = "specialist-consultation"
    DENTAL = "dental"
    DMG = "dmg"
    MEDICAL_HOUSE = "medical-house"


# Acts a medical-house flat rate already covers: the insurer refuses them for its patients (169).
MEDICAL_HOUSE_COVERED = frozenset(
    {Category.GP_CONSULTATION, Category.GP_VISIT, Category.SUPPLEMENT}
)


@dataclass(frozen=True)
class NomenclatureEntry:
    code: str
    label: str
    category: Category
    fee: Decimal
    kinds: frozenset[str]  # provider kinds allowed to bill it (else 171)
    in_etar: bool = True  # priced by eTar (else 175 when in eFact, 172 when not)
    in_efact: bool = True  # may be billed through eFact (DMG and care paths may not)
    max_age: int | None = None  # patient must be younger than this on the service day
    approximate: bool = True


_GP = frozenset({"GP"})
_DENTIST = frozenset({"DENTIST"})


def _n(coefficient: int) -> Decimal:
    return (DENTAL_KEY_VALUE_N * coefficient).quantize(CENT, ROUND_HALF_UP)


def _entry(
    code: str,
    label: str,
    category: Category,
    fee: str | Decimal,
    kinds: frozenset[str],
    *,
    in_etar: bool = True,
    in_efact: bool = True,
    max_age: int | None = None,
) -> NomenclatureEntry:
    return NomenclatureEntry(
        code, label, category, Decimal(fee), kinds, in_etar, in_efact, max_age, approximate=True
    )


_TABLE: tuple[NomenclatureEntry, ...] = (
    # GP consultation 30.00 EUR since 1 Jan 2023, indexed since [A].
    _entry("101010", "GP consultation (acquired rights)", Category.GP_CONSULTATION, "30.00", _GP),
    _entry(
        "101032", "GP consultation at the surgery, agréé", Category.GP_CONSULTATION, "30.00", _GP
    ),
    _entry("101054", "GP consultation (variant)", Category.GP_CONSULTATION, "30.00", _GP),
    _entry("101076", "GP consultation, accredited", Category.GP_CONSULTATION, "30.00", _GP),
    _entry("102410", "night/weekend supplement (101010)", Category.SUPPLEMENT, "25.00", _GP),
    _entry("102432", "night/weekend supplement (101032)", Category.SUPPLEMENT, "25.00", _GP),
    _entry("102454", "night/weekend supplement (101054)", Category.SUPPLEMENT, "25.00", _GP),
    _entry("102476", "night/weekend supplement (101076)", Category.SUPPLEMENT, "25.00", _GP),
    _entry("103132", "GP home visit", Category.GP_VISIT, "45.00", _GP),
    _entry("103412", "GP home visit (variant)", Category.GP_VISIT, "45.00", _GP),
    _entry("103434", "GP home visit (variant)", Category.GP_VISIT, "45.00", _GP),
    # Billed in eFact but not priced by eTar: our pick for 175 [A].
    _entry(
        "103095",
        "supplement, unusual consultation/visit",
        Category.SUPPLEMENT,
        "20.00",
        _GP,
        in_etar=False,
    ),
    # DMG: neither eTar nor eFact (eFact 500433) -> 172.
    _entry(
        "102771", "DMG opening/extension", Category.DMG, "33.00", _GP, in_etar=False, in_efact=False
    ),
    # Representative specialist consultation: label and code meaning [A].
    _entry(
        "102012",
        "specialist consultation",
        Category.SPECIALIST_CONSULTATION,
        "40.00",
        frozenset({"SPECIALIST"}),
    ),
    _entry("301011", "dentist consultation at the surgery", Category.DENTAL, "25.00", _DENTIST),
    _entry("371011", "dental consultation (N11)", Category.DENTAL, _n(11), _DENTIST),
    _entry(
        "371033",
        "dental consultation up to the 19th birthday (N11)",
        Category.DENTAL,
        _n(11),
        _DENTIST,
        max_age=19,
    ),
    _entry(
        "371571",
        "annual preventive oral exam up to the 18th birthday (N18)",
        Category.DENTAL,
        _n(18),
        _DENTIST,
        max_age=18,
    ),
    # Medical-house flat rate: billed by the house itself, never by a GP or dentist (171).
    _entry(
        "109594",
        "medical-house flat rate",
        Category.MEDICAL_HOUSE,
        "0.00",
        frozenset({"MEDICAL_HOUSE"}),
    ),
)

TABLE: dict[str, NomenclatureEntry] = {entry.code: entry for entry in _TABLE}

_CONSULTATIONS_AND_VISITS = frozenset(
    e.code for e in _TABLE if e.category in (Category.GP_CONSULTATION, Category.GP_VISIT)
)
# A supplement is billed with its main service (same patient, day and provider) and falls with
# it: the insurer rejects it with 500119 when the main service is rejected (domain-rules 6.5,
# S-FAQ-MC "secondary services (guard supplements, technical acts) rejected with the main
# service"). The pairs are the labels of the table [C labels, A pairing of 103095].
MAIN_SERVICES: dict[str, frozenset[str]] = {
    "102410": frozenset({"101010"}),
    "102432": frozenset({"101032"}),
    "102454": frozenset({"101054"}),
    "102476": frozenset({"101076"}),
    "103095": _CONSULTATIONS_AND_VISITS,
}


def lookup(code: str) -> NomenclatureEntry | None:
    """The entry of a 6-digit code (a 7-digit eFact code with a leading 0 is accepted)."""
    if len(code) == 7 and code.startswith("0"):
        code = code[1:]
    return TABLE.get(code)


@dataclass(frozen=True)
class Price:
    fee: Decimal
    reimbursement: Decimal
    patient_fee: Decimal
    approximate: bool


def _gp_share(category: Category, patient: Patient, age: int, dmg: bool) -> Decimal:
    """Personal share for GP acts: 4/6 non-BIM, 1/1.50 BIM (with/without DMG) [A],
    0 for BIM up to 24 years with a DMG (since 1 Oct 2023) [C]. Visits: same pattern, higher [A]."""
    if patient.bim and age <= 24 and dmg:
        return Decimal("0.00")
    if category is Category.GP_VISIT:
        return (
            Decimal("1.50" if dmg else "2.00")
            if patient.bim
            else Decimal("7.00" if dmg else "9.00")
        )
    return Decimal("1.00" if dmg else "1.50") if patient.bim else Decimal("4.00" if dmg else "6.00")


def patient_share(
    entry: NomenclatureEntry, patient: Patient, day: date, dmg_with_author: bool
) -> Decimal:
    """The ticket modérateur for one act; never more than the fee."""
    age = patient.age_on(day)
    category = entry.category
    if category in (Category.GP_CONSULTATION, Category.GP_VISIT):
        share = _gp_share(category, patient, age, dmg_with_author)
    elif category is Category.SPECIALIST_CONSULTATION:
        share = Decimal("3.00" if patient.bim else "12.00")  # 2015 rule [A]
    elif category is Category.DENTAL:
        # Children are free; adults pay a quarter, BIM nothing [A].
        free = age < 18 or patient.bim
        share = Decimal("0.00") if free else (entry.fee / 4).quantize(CENT, ROUND_HALF_UP)
    else:  # supplements, DMG, medical house: fully reimbursed
        share = Decimal("0.00")
    if patient.palliative and category in (Category.GP_CONSULTATION, Category.GP_VISIT):
        share = Decimal("0.00")  # palliative patients pay no GP share [A]
    return min(share, entry.fee)


def price(
    code: str, patient: Patient, provider_kind: str, day: date, dmg_with_author: bool
) -> Price:
    """Fee, insurer part and patient share of `code` for this patient on `day`.

    `dmg_with_author` is True when the patient's DMG is held by the author (or by the colleague
    named as gmdmanager). Raises KeyError for a code not in the table and ValueError when the
    provider kind may not bill it: the eTar rules check both before pricing.
    """
    entry = lookup(code)
    if entry is None:
        raise KeyError(f"nomenclature code {code} is not in the table")
    if provider_kind not in entry.kinds:
        raise ValueError(f"a {provider_kind} may not bill {code}")
    share = patient_share(entry, patient, day, dmg_with_author)
    return Price(entry.fee, entry.fee - share, share, entry.approximate)
