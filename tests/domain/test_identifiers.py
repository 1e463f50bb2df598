"""Identifiers: the worked examples of domain-rules 2 and properties over generated numbers."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.domain.identifiers import (
    is_valid_cbe,
    is_valid_mutuality,
    is_valid_nihii,
    is_valid_niss,
    is_valid_nomenclature_code,
    make_nihii,
    make_niss,
    nihii_profession,
    niss_birth_date,
    niss_sex,
    same_person,
    union_of,
)

TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("niss", "born", "sex"),
    [
        ("85073003328", date(1985, 7, 30), "male"),
        ("17073003384", date(2017, 7, 30), "male"),
        ("00011317652", date(2000, 1, 13), "female"),
        ("98472899765", date(1998, 7, 28), "male"),  # BIS +40
        ("01490700185", date(2001, 9, 7), "male"),  # BIS 2001, +40
    ],
)
def test_niss_worked_examples(niss: str, born: date, sex: str) -> None:
    assert is_valid_niss(niss, today=TODAY)
    assert niss_birth_date(niss, today=TODAY) == born
    assert niss_sex(niss) == sex


@pytest.mark.parametrize("niss", ["12345678901", "8507300332", "850730033288", "8507300332a", ""])
def test_niss_rejected(niss: str) -> None:
    assert not is_valid_niss(niss)
    assert niss_birth_date(niss) is None


def test_niss_2000_rule_needs_a_past_year() -> None:
    # 2017 is allowed in 2026 but not if "today" were 2016 (the 20xx reading is impossible).
    assert is_valid_niss("17073003384", today=date(2026, 1, 1))
    assert not is_valid_niss("17073003384", today=date(2016, 1, 1))


def test_bis_with_unknown_sex_and_unknown_birth_date() -> None:
    body = "852730033"  # month 27 = July + 20: BIS, sex unknown
    bis = body + f"{97 - int(body) % 97:02d}"
    assert is_valid_niss(bis)
    assert niss_sex(bis) is None
    assert niss_birth_date(bis) == date(1985, 7, 30)
    unknown = "850000033"  # month and day unknown
    number = unknown + f"{97 - int(unknown) % 97:02d}"
    assert is_valid_niss(number)
    assert niss_birth_date(number) is None


def test_impossible_calendar_date_is_invalid() -> None:
    body = "850230033"  # 30 February
    assert not is_valid_niss(body + f"{97 - int(body) % 97:02d}")


@given(
    born=st.dates(min_value=date(1900, 1, 1), max_value=TODAY),
    serial=st.integers(min_value=1, max_value=998),
    bis=st.booleans(),
)
def test_make_niss_round_trip(born: date, serial: int, bis: bool) -> None:
    niss = make_niss(born, serial, bis=bis)
    assert is_valid_niss(niss, today=TODAY)
    assert niss_birth_date(niss, today=TODAY) == born
    assert niss_sex(niss) == ("male" if serial % 2 else "female")
    assert (int(niss[2:4]) > 40) == bis


@given(
    born=st.dates(min_value=date(1900, 1, 1), max_value=TODAY),
    serial=st.integers(min_value=1, max_value=998),
    position=st.integers(0, 10),
    delta=st.integers(1, 9),
)
def test_one_changed_digit_is_detected(born: date, serial: int, position: int, delta: int) -> None:
    niss = make_niss(born, serial)
    digit = str((int(niss[position]) + delta) % 10)
    changed = niss[:position] + digit + niss[position + 1 :]
    # mod 97 catches every single-digit substitution: the number is either invalid or (1/97
    # chance) only valid in the other century, so it never yields the same birth date.
    assert niss_birth_date(changed) != born


@pytest.mark.parametrize(
    ("nihii", "profession"),
    [
        ("18334780004", "PHYSICIAN"),
        ("11820736004", "PHYSICIAN"),
        ("19733263004", "PHYSICIAN"),
        ("12471131580", "PHYSICIAN"),
        ("10185748004", "PHYSICIAN"),  # modulo 89
        ("30202929001", "DENTIST"),
        ("54263481527", "PHYSIOTHERAPIST"),
        ("60567689801", "PHARMACIST"),
        ("71040622000", "HOSPITAL"),
    ],
)
def test_real_nihii_numbers(nihii: str, profession: str) -> None:
    assert is_valid_nihii(nihii)
    assert nihii_profession(nihii) == profession


@pytest.mark.parametrize("nihii", ["18334781004", "1833478000", "183347800040", "1833478000x"])
def test_bad_nihii(nihii: str) -> None:
    assert not is_valid_nihii(nihii)
    assert nihii_profession(nihii) is None


@given(
    base=st.integers(min_value=100000, max_value=399999),
    qualification=st.from_regex(r"\A[0-9]{3}\Z"),
    modulus=st.sampled_from([97, 89]),
)
def test_make_nihii_is_valid(base: int, qualification: str, modulus: int) -> None:
    nihii = make_nihii(base, qualification, modulus=modulus)
    assert len(nihii) == 11
    assert is_valid_nihii(nihii)
    assert nihii.endswith(qualification)
    assert make_nihii(nihii[:8], "000")[:8] == nihii[:8]  # an 8-digit person number is kept
    assert same_person(nihii, nihii[:8] + "999")


def test_make_nihii_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="check digits"):
        make_nihii("18334781", "004")
    with pytest.raises(ValueError, match="qualification"):
        make_nihii("183347", "4")


@pytest.mark.parametrize(
    ("number", "ok"),
    [
        ("0403019261", True),
        ("0428759497", True),
        ("0820563481", True),
        ("0635769870", True),
        ("0411724220", True),
        ("403019261", True),  # old 9-digit form
        ("0403.019.261", True),
        ("0431150351", False),
        ("2403019261", False),
    ],
)
def test_cbe(number: str, ok: bool) -> None:
    assert is_valid_cbe(number) is ok


def test_mutuality_codes() -> None:
    assert is_valid_mutuality("319") and union_of("319") == "300"
    assert is_valid_mutuality("750") and is_valid_mutuality("999") and is_valid_mutuality("940")
    assert not is_valid_mutuality("719") and not is_valid_mutuality("31")


@pytest.mark.parametrize("code", ["101010", "101032", "102771", "109594", "371011", "0101076"])
def test_nomenclature_check_digit(code: str) -> None:
    assert is_valid_nomenclature_code(code)


@pytest.mark.parametrize("code", ["101033", "10103", "1010322", "abcdef"])
def test_nomenclature_check_digit_rejects(code: str) -> None:
    assert not is_valid_nomenclature_code(code)
