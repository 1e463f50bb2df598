"""Each rule of simulator.efact.checks, with the exact rejection (record, type, zone, code, letter)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from simulator.domain import nomenclature
from simulator.domain.population import build_population
from simulator.efact.checks import (
    CheckOptions,
    character_sum,
    check_file,
    checksum_ok,
    control_number,
    months_before,
    record_checksum,
)
from simulator.efact.errors import Rejection
from simulator.efact.parser import EfactFormatError, parse
from simulator.efact.writer import Invoice, Service

from .helpers import NISS, OFFSET, TODAY, edit, service, small_file

CIN_FILES = ("TFAC1SC09.509E", "TFAC1SC11.510E", "TFAC1SC12.518E", "TFAC1SC13.519E",
             "TFAC1SC15.520E")
CIN_TODAY = date(2014, 11, 25)


def found(data: bytes, today: date = TODAY, **options: object) -> list[tuple[object, ...]]:
    result = check_file(data, CheckOptions(today=today, **options))  # type: ignore[arg-type]
    return [(r.index, r.record_type, r.zone, r.code, r.letter) for r in result]


# --- the CIN test files ---------------------------------------------------------------------


@pytest.mark.parametrize("name", CIN_FILES)
def test_cin_files_pass_every_check_with_the_plus_10_checksums(
    shared_reference: Path, name: str
) -> None:
    data = (shared_reference / "samples" / "efact" / name).read_bytes()
    assert found(data, CIN_TODAY) == []


@pytest.mark.parametrize("name", CIN_FILES)
def test_cin_files_fail_on_every_checksum_when_the_variant_is_refused(
    shared_reference: Path, name: str
) -> None:
    data = (shared_reference / "samples" / "efact" / name).read_bytes()
    codes = found(data, CIN_TODAY, accept_cin_checksum=False)
    _header, records = parse(data)
    expected = [
        (r.index, r.type, "99", f"{r.type}9902", "B")
        for r in records if r.type not in ("95", "96")
    ]
    assert codes == expected


def test_cin_control_numbers_match_the_documented_values(shared_reference: Path) -> None:
    # wire-formats 6.4: one 50 with 0101032 -> 55; 50 + 51 -> 202064 mod 97 = 13
    assert control_number(101032) == 55
    assert control_number(2 * 101032) == 13
    data = (shared_reference / "samples" / "efact" / "TFAC1SC09.509E").read_bytes()
    _, records = parse(data)
    footer = next(r for r in records if r.type == "80")
    assert footer.zone("98") == "13"


def test_cascade_510119_after_a_rejected_record_50(shared_reference: Path) -> None:
    data = (shared_reference / "samples" / "efact" / "TFAC1SC09.509E").read_bytes()
    bad = edit(data, 3, 67, "018334790004")  # provider NIHII of the 50, checksum recomputed
    assert found(bad, CIN_TODAY) == [
        (3, "50", "15", "501502", "R"),
        (4, "51", "1", "510119", "R"),
    ]


# --- checksums --------------------------------------------------------------------------------


def test_checksum_values_and_the_cin_variant() -> None:
    record = small_file()[OFFSET : OFFSET + 350].decode("ascii")
    total = character_sum(record)
    assert record_checksum(record) == (total % 97 or 97)
    assert record_checksum(record, cin_variant=True) == ((total + 10) % 97 or 97)
    assert checksum_ok(record)
    cin = record[:348] + f"{record_checksum(record, cin_variant=True):02d}"
    assert checksum_ok(cin)
    assert not checksum_ok(cin, accept_cin_variant=False)
    assert character_sum("0" * 348) == 0
    assert character_sum(" A1+" + "0" * 344) == 10 + 11 + 1 + 37


def test_wrong_record_checksum_is_blocking() -> None:
    data = small_file()
    record = data[OFFSET + 700 : OFFSET + 1050].decode("ascii")
    good = {record_checksum(record), record_checksum(record, cin_variant=True)}
    wrong = next(f"{v:02d}" for v in range(1, 98) if v not in good)
    assert found(edit(data, 3, 348, wrong, checksum=False)) == [(3, "50", "99", "509902", "B")]


# --- structure --------------------------------------------------------------------------------


def test_generated_small_file_is_clean() -> None:
    assert found(small_file()) == []


@pytest.mark.parametrize(
    ("index", "start", "value", "expected"),
    [
        # a 51 right after a 20; its amounts no longer count, so the totals disagree too
        (3, 0, "51", [(3, "51", "1", "510110", "B"), (5, "80", "19", "801910", "F"),
                      (5, "80", "27", "802710", "F"), (9, "90", "19", "901911", "B"),
                      (10, "95", "404", "954010", "B"), (12, "96", "504", "965010", "B")]),
        (4, 2, "000009", [(4, "50", "2", "500210", "B")]),  # order number not previous + 1
        (4, 2, "00000X", [(4, "50", "2", "500201", "B")]),
        (1, 2, "000002", [(1, "10", "2", "100110", "B")]),
    ],
)
def test_record_order_and_numbering(
    index: int, start: int, value: str, expected: list[tuple[object, ...]]
) -> None:
    assert found(edit(small_file(), index, start, value)) == expected


def test_invoices_by_ascending_destination() -> None:
    data = small_file(
        Invoice(NISS, "1", "304", "304", 1, (service(),)),
        Invoice(NISS, "1", "131", "131", 2, (service(),)),
    )
    assert found(data) == [(5, "20", "18", "201812", "B")]


def test_unknown_record_type_is_a_blocking_finding_named_after_the_expected_type() -> None:
    """Issue 11: an unknown type used to drop the file silently. It is X0103 "Type
    d'enregistrement non autorise" (digits) or X0101 "non numerique", X the type expected
    there (a 50 after a 20); the record is skipped, so the 80's totals disagree too."""
    data = edit(small_file(), 3, 0, "77", checksum=False)
    assert found(data)[0] == (3, "77", "1", "500103", "B")
    assert found(edit(small_file(), 3, 0, "X\n", checksum=False))[0] == (3, "X?", "1", "500101", "B")
    assert found(edit(small_file(), 10, 0, "91", checksum=False))[0] == (10, "91", "1", "900103", "B")


@pytest.mark.parametrize(
    ("start", "value", "expected"),
    [
        (35, "00361210153\xe96", (3, "50", "8", "500801", "B")),  # numeric zone: ZZ01
        (100, "\xb2", (3, "50", "20", "502001", "B")),  # "2".isdigit() but not a digit
        (140, "caf\xe9\r", (3, "50", "28", "500003", "B")),  # free text: the own T0003
        (348, "\x00", (3, "50", "99", "509902", "B")),  # zone 99: the checksum code
    ],
)
def test_a_character_outside_printable_ascii_is_found_where_it_is(
    start: int, value: str, expected: tuple[object, ...]
) -> None:
    data = edit(small_file(), 3, start, value, checksum=start < 348)
    assert found(data) == [expected]


def test_a_file_without_record_90_is_refused_900104() -> None:
    data = small_file()
    cut = data[: OFFSET + 350 * 8]  # records 1-8: the 90 and the summaries are gone
    assert found(cut) == [(8, "90", "1", "900104", "B")]


def test_truncated_file_is_a_format_error() -> None:
    with pytest.raises(EfactFormatError, match="file ends inside a record"):
        check_file(small_file()[:-10], CheckOptions(today=TODAY))


# --- identifiers, dates, codes, amounts -----------------------------------------------------


@pytest.mark.parametrize(
    ("index", "start", "value", "expected"),
    [
        (2, 35, "0036121015397", [(2, "20", "8", "200802", "F")]),
        (2, 35, "00361210153X6", [(2, "20", "8", "200801", "B")]),
        (3, 35, "0036121015397", [(3, "50", "8", "500802", "R")]),
        (3, 35, "00361210153X6", [(3, "50", "8", "500801", "B")]),
        (3, 67, "018334790004", [(3, "50", "15", "501502", "R")]),
        (3, 114, "018334790004", [(3, "50", "24", "502402", "R")]),
        (2, 55, "018334790004", [(2, "20", "14", "201402", "F")]),
        (1, 55, "018334790004", [(1, "10", "14", "101402", "B")]),
        (1, 127, "0123456789", [(1, "10", "27", "102702", "B")]),
        (1, 32, "006", [(1, "10", "7", "100720", "B")]),
        (1, 119, "20261224", [(1, "10", "25", "102510", "B")]),
        (1, 119, "20261332", [(1, "10", "25", "102501", "B")]),
        (3, 16, "20261340", [(3, "50", "5", "500501", "B")]),
        (3, 16, "20261130", [(3, "50", "5", "500510", "R")]),
        (3, 16, "20260922", [(3, "50", "5", "500503", "E")]),  # older than two months
        (3, 24, "20261130", [(3, "50", "6a", "500610", "R")]),
        (3, 24, "2026113X", [(3, "50", "6a", "500601", "B")]),
        (3, 87, "+0000000ABCD", [(3, "50", "19", "501901", "B"), (5, "80", "19", "801910", "F"),
                                 (9, "90", "19", "901911", "B"), (10, "95", "404", "954010", "B"),
                                 (12, "96", "504", "965010", "B")]),
    ],
)
def test_field_rules(
    index: int, start: int, value: str, expected: list[tuple[object, ...]]
) -> None:
    assert found(edit(small_file(), index, start, value)) == expected


def test_two_month_window_edge() -> None:
    assert months_before(TODAY, 2) == date(2026, 9, 23)
    assert months_before(date(2026, 5, 31), 3) == date(2026, 2, 28)
    assert found(edit(small_file(), 3, 16, "20260923")) == []


@pytest.mark.parametrize(
    ("code", "rejected"),
    [("0101033", ("500402", "R")), ("0102771", ("500432", "R")), ("01010X2", ("500401", "B"))],
)
def test_nomenclature_code_rules_and_control_cascade(code: str, rejected: tuple[str, str]) -> None:
    result = found(edit(small_file(), 3, 9, code))
    assert result[0] == (3, "50", "4", *rejected)
    if code.isdigit():  # the code counts in the control numbers, which no longer match
        assert [r[3] for r in result[1:]] == ["809802", "909802", "954102", "965102"]


# --- totals and control numbers -------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "start", "value", "expected"),
    [
        (5, 346, "01", (5, "80", "98", "809802", "B")),
        (5, 87, "+00000009999", (5, "80", "19", "801910", "F")),
        (5, 127, "+000009999", (5, "80", "27", "802710", "F")),
        (5, 164, "+000009999", (5, "80", "30", "803010", "F")),
        (9, 346, "01", (9, "90", "98", "909802", "B")),
        (9, 87, "+00000009999", (9, "90", "19", "901911", "B")),
        (10, 75, "01", (10, "95", "410", "954102", "B")),
        (10, 23, "+00000009999", (10, "95", "404", "954010", "B")),
        (12, 75, "01", (12, "96", "510", "965102", "B")),
        (12, 23, "+00000009999", (12, "96", "504", "965010", "B")),
    ],
)
def test_totals_and_control_numbers(
    index: int, start: int, value: str, expected: tuple[object, ...]
) -> None:
    assert found(edit(small_file(), index, start, value)) == [expected]


# --- the patient's situation and the tariff (population) --------------------------------------


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    return build_population(11, 60, 20, TODAY)


def _priced(world, situation: str, day: date, delta: int = 0, share_delta: int = 0) -> bytes:  # type: ignore[no-untyped-def]
    patient = world.situation(situation)
    gp = world.providers_of_kind("GP")[0]
    dmg = patient.dmg_holder is not None and patient.dmg_holder[:8] == gp.nihii[:8]
    price = nomenclature.price("101032", patient, "GP", day, dmg)
    period = patient.period_on(day) or patient.periods[-1]
    svc = Service("0101032", day, patient.ssin, gp.nihii,
                  int(price.reimbursement * 100) + delta, int(price.patient_fee * 100) + share_delta)
    return small_file(Invoice(patient.ssin, "1", period.mutuality, period.mutuality, 1, (svc,)))


def test_priced_service_of_an_insured_patient_is_clean(world) -> None:  # type: ignore[no-untyped-def]
    assert found(_priced(world, "regular", date(2026, 11, 20)), population=world) == []


def test_wrong_insurance_amount_and_share(world) -> None:  # type: ignore[no-untyped-def]
    day = date(2026, 11, 20)
    assert found(_priced(world, "regular", day, delta=1), population=world) == [
        (3, "50", "19", "501940", "R")
    ]
    # Too high is the FAQ's 502742 (docs/rules.md "eFact"); too low stays 502741.
    assert found(_priced(world, "regular", day, share_delta=1), population=world) == [
        (3, "50", "27", "502742", "R")
    ]
    assert found(_priced(world, "regular", day, share_delta=-1), population=world) == [
        (3, "50", "27", "502741", "R")
    ]
    # Every finding of the record, not only the first: 501940 and 502742 together.
    assert found(_priced(world, "regular", day, delta=-100, share_delta=100),
                 population=world) == [
        (3, "50", "19", "501940", "R"), (3, "50", "27", "502742", "R")
    ]


def test_patient_not_in_order_and_deceased(world) -> None:  # type: ignore[no-untyped-def]
    day = date(2026, 11, 22)
    assert found(_priced(world, "not-in-order", day), population=world) == [
        (3, "50", "5", "500540", "R")
    ]
    assert found(_priced(world, "deceased", day), population=world) == [
        (3, "50", "5", "500549", "R")
    ]


def test_unknown_beneficiary(world) -> None:  # type: ignore[no-untyped-def]
    assert found(small_file(), population=world)[0] == (2, "20", "8", "200820", "F")


def test_rejection_carries_catalogue_texts() -> None:
    result = check_file(edit(small_file(), 3, 67, "018334790004"), CheckOptions(today=TODAY))
    assert result == [
        Rejection(3, "50", "15", "501502", "R",
                  "Numéro d'identification du dispensateur avec check-digit erroné",
                  result[0].nl, "018334790004")
    ]
    assert result[0].nl == "Identificatienummer verstrekker met foutief controlecijfer."
    assert str(result[0]).startswith("record 3 (type 50) zone 15: R501502 Numéro")
