"""Belgian identifiers and their check digits (domain-rules section 2).

Pure functions over strings: no I/O, no clock. Where the rule depends on the current year (the
2000+ rule of the NISS) the caller passes `today`; without it both centuries are tried.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

Profession = Literal[
    "PHYSICIAN",
    "HOSPITAL_PHARMACIST",
    "DENTIST",
    "NURSE_OR_MIDWIFE",
    "PHYSIOTHERAPIST",
    "PHARMACIST",
    "HOSPITAL",
    "CLINICAL_LAB",
]

# domain-rules 2.2: first digit of an INAMI/RIZIV number -> profession.
_PROFESSIONS: dict[str, Profession] = {
    "1": "PHYSICIAN",
    "2": "HOSPITAL_PHARMACIST",
    "3": "DENTIST",
    "4": "NURSE_OR_MIDWIFE",
    "5": "PHYSIOTHERAPIST",
    "6": "PHARMACIST",
    "7": "HOSPITAL",
    "8": "CLINICAL_LAB",
}

# domain-rules 2.5: the national unions (OA families), first digit of every mutuality code.
INSURERS: frozenset[str] = frozenset({"100", "200", "300", "400", "500", "600", "900"})


def _digits(value: str, length: int) -> bool:
    return len(value) == length and value.isascii() and value.isdigit()


# --- NISS / INSZ / SSIN ---------------------------------------------------------------------


def _niss_century(niss: str, today: date | None) -> int | None:
    """1900 or 2000 depending on which mod-97 check passes (domain-rules 2.1), else None."""
    if not _digits(niss, 11):
        return None
    body, check = niss[:9], int(niss[9:])
    if 97 - int(body) % 97 == check:
        return 1900
    # Births from 2000 on: "2" is prefixed to the body, only possible up to the current year.
    if 97 - int("2" + body) % 97 == check and (today is None or 2000 + int(niss[:2]) <= today.year):
        return 2000
    return None


def _niss_month_day(niss: str) -> tuple[int, int, bool, bool] | None:
    """(month, day, is_bis, sex_known) without the BIS offset; None for an impossible month."""
    month, day = int(niss[2:4]), int(niss[4:6])
    if month <= 12:
        return month, day, False, True
    if 20 <= month <= 32:  # BIS, sex unknown at attribution
        return month - 20, day, True, False
    if 40 <= month <= 52:  # BIS, sex known
        return month - 40, day, True, True
    return None


def is_valid_niss(niss: str, *, today: date | None = None) -> bool:
    """True for a well-formed NISS or BIS number (domain-rules 2.1).

    11 digits `YYMMDD SSS CC`; CC = 97 - (first 9 digits mod 97) for births in 19xx, or the same
    over "2" + the 9 digits for births from 2000 (only when 2000+YY <= today's year, if given).
    Months 01-12 (register), 20-32 (BIS, +20) and 40-52 (BIS, +40) are allowed; month 00 or day
    00 stands for an unknown birth date; a fully known date must exist in the calendar.
    """
    century = _niss_century(niss, today)
    if century is None:
        return False
    parts = _niss_month_day(niss)
    if parts is None:
        return False
    month, day, _, _ = parts
    if month == 0 or day == 0:
        return day <= 31
    try:
        date(century + int(niss[:2]), month, day)
    except ValueError:
        return False
    return True


def niss_birth_date(niss: str, *, today: date | None = None) -> date | None:
    """Birth date encoded in a valid NISS/BIS (domain-rules 2.1); None if unknown or invalid."""
    if not is_valid_niss(niss, today=today):
        return None
    century = _niss_century(niss, today)
    parts = _niss_month_day(niss)
    if century is None or parts is None or parts[0] == 0 or parts[1] == 0:
        return None
    return date(century + int(niss[:2]), parts[0], parts[1])


def niss_sex(niss: str) -> Literal["male", "female"] | None:
    """Sex from the day counter: odd = male, even = female (domain-rules 2.1).

    None for an invalid number and for a BIS number attributed with sex unknown (month +20).
    """
    if not is_valid_niss(niss):
        return None
    parts = _niss_month_day(niss)
    if parts is None or not parts[3]:
        return None
    return "male" if int(niss[6:9]) % 2 == 1 else "female"


def make_niss(birth_date: date, serial: int, *, bis: bool = False) -> str:
    """Build a valid NISS (or BIS with sex known, month +40) for a birth date and day counter.

    `serial` is the 3-digit counter 1..998: odd for men, even for women (domain-rules 2.1).
    """
    if not 1 <= serial <= 998:
        raise ValueError(f"NISS serial must be 1..998, got {serial}")
    if not 1900 <= birth_date.year <= 2099:
        raise ValueError(f"NISS birth year must be 1900..2099, got {birth_date.year}")
    month = birth_date.month + (40 if bis else 0)
    body = f"{birth_date.year % 100:02d}{month:02d}{birth_date.day:02d}{serial:03d}"
    number = int(("2" if birth_date.year >= 2000 else "") + body)
    return f"{body}{97 - number % 97:02d}"


# --- NIHII (INAMI / RIZIV) ------------------------------------------------------------------


def nihii_check_ok(person8: str) -> bool:
    """Check digits of the 8-digit person part (domain-rules 2.2).

    Digits 7-8 equal 97 - (first 6 mod 97) for classic numbers, or 89 - (first 6 mod 89) for the
    series issued since 2013 (the 89 variant is verified on one real number only [O]).
    """
    if not _digits(person8, 8):
        return False
    n6, check = int(person8[:6]), int(person8[6:])
    return check in (97 - n6 % 97, 89 - n6 % 89)


def is_valid_nihii(nihii: str) -> bool:
    """An 11-digit NIHII: 8-digit person number with valid check digits + 3-digit qualification."""
    return _digits(nihii, 11) and nihii_check_ok(nihii[:8])


def make_nihii(person_number: str | int, qualification: str = "000", *, modulus: int = 97) -> str:
    """NIHII-11 from a 6-digit base (profession digit + 5-digit sequence) and a qualification.

    The check digits use the classic 97 rule unless `modulus=89` (domain-rules 2.2). An 8-digit
    person number (base + check digits) is accepted as is if its check digits are right.
    """
    base = f"{person_number:06d}" if isinstance(person_number, int) else person_number
    if not _digits(qualification, 3):
        raise ValueError(f"NIHII qualification must be 3 digits, got {qualification!r}")
    if _digits(base, 8):
        if not nihii_check_ok(base):
            raise ValueError(f"NIHII person number {base} has wrong check digits")
        return base + qualification
    if not _digits(base, 6):
        raise ValueError(f"NIHII person number must be 6 or 8 digits, got {base!r}")
    if modulus not in (97, 89):
        raise ValueError(f"NIHII modulus is 97 or 89, got {modulus}")
    return f"{base}{modulus - int(base) % modulus:02d}{qualification}"


def nihii_profession(nihii: str) -> Profession | None:
    """Profession from the first digit of a valid NIHII (domain-rules 2.2); None if unknown."""
    if not is_valid_nihii(nihii):
        return None
    return _PROFESSIONS.get(nihii[0])


def same_person(nihii_a: str, nihii_b: str) -> bool:
    """Two NIHII name the same provider when their first 8 digits agree (qualification varies)."""
    return len(nihii_a) >= 8 and nihii_a[:8] == nihii_b[:8]


# --- BCE / KBO, insurers, nomenclature ------------------------------------------------------


def is_valid_cbe(number: str) -> bool:
    """BCE/KBO enterprise number (domain-rules 2.4): 10 digits (9 get a leading 0), first digit
    0 or 1, last two = 97 - (first 8 mod 97)."""
    number = number.replace(".", "").replace(" ", "")
    if _digits(number, 9):
        number = "0" + number
    if not _digits(number, 10) or number[0] not in "01":
        return False
    return 97 - int(number[:8]) % 97 == int(number[8:])


def is_valid_insurer(code: str) -> bool:
    """One of the seven national unions 100..600 and 900 (domain-rules 2.5)."""
    return code in INSURERS


def is_valid_mutuality(code: str) -> bool:
    """3-digit mutuality code, pattern `750|999|[1-69][0-9]{2}` (domain-rules 2.5, GENINS-XSD)."""
    return _digits(code, 3) and (code in ("750", "999") or code[0] in "123456" or code[0] == "9")


def union_of(mutuality: str) -> str:
    """The national union of a mutuality: its first digit followed by 00 (domain-rules 2.5)."""
    return mutuality[0] + "00"


def is_valid_nomenclature_code(code: str) -> bool:
    """[O] INAMI nomenclature code: 6 digits (7 with a leading 0), 6th = first five mod 7.

    Empirical rule (domain-rules 2.7): 39 real codes, no mismatch, no official text.
    """
    if _digits(code, 7) and code[0] == "0":
        code = code[1:]
    return _digits(code, 6) and int(code[:5]) % 7 == int(code[5])
