"""The insurer's verdict rules added for issue 4: forced (scenario) codes and where they land,
the unknown third party (101420), one record in error never refusing a file, and the
settlement file agreeing with the settlement totals."""

from __future__ import annotations

import io
from datetime import date

import pytest

from simulator.domain.efact_processing import (
    ACCEPTED,
    BLOCKING,
    REJECTED,
    TOO_MANY,
    FileFacts,
    Rules,
    decide,
    file_rules,
    forced,
    settle,
)
from simulator.efact.errors import Rejection, rejection
from simulator.efact.parser import parse
from simulator.efact.writer import write_settlement
from tests.efact.helpers import small_file

DAY = date(2026, 11, 23)
FACTS = FileFacts(third_party="018334780004", sending_number="005", content="040")
# small_file(): 1:10 2:20 3:50 4:50 5:80 6:20 7:50 8:80 9:90 10:95 11:95 12:96 13:96
KINDS = ["10", "20", "50", "50", "80", "20", "50", "80", "90", "95", "95", "96", "96"]
# A CIN-like file: one invoice with a 50 and its 51.
BLOCK = ["10", "20", "50", "51", "80", "90", "95", "96"]


def codes(found: list[Rejection] | tuple[Rejection, ...]) -> list[tuple[int, str, str, str, str]]:
    return [(r.index, r.record_type, r.zone, r.letter, r.code) for r in found]


# -- where a forced code lands ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "kinds", "expected"),
    [
        ("100724", KINDS, (1, "10", "7", "B", "100724")),  # file code: record 10
        ("101420", KINDS, (1, "10", "14", "B", "101420")),
        ("200820", KINDS, (2, "20", "8", "F", "200820")),  # invoice code: first 20
        ("500742", KINDS, (3, "50", "7", "R", "500742")),  # record code: first 50
        ("514225", BLOCK, (4, "51", "42", "R", "514225")),  # a 51 code on the first 51 only
        ("809802", KINDS, (5, "80", "98", "B", "809802")),  # B code of the 80: on the 80
    ],
)
def test_a_forced_code_lands_on_the_first_record_of_its_type_or_level(
    code: str, kinds: list[str], expected: tuple[int, str, str, str, str]
) -> None:
    found = forced(kinds, code)
    assert found is not None and codes([found]) == [expected]


def test_a_forced_code_with_nowhere_to_land_is_none() -> None:
    assert forced(["10", "90"], "500742") is None
    # A record 51 code never lands on a 50 (docs/rules.md "eFact"), nor 500119 on a service
    # that is no supplement.
    assert forced(KINDS, "514225") is None
    assert forced(BLOCK, "500119") is None


def test_a_forced_file_code_refuses_the_file_920099_type_01() -> None:
    decision = decide(KINDS, [], FACTS, DAY, [], force=forced(KINDS, "100721"))
    assert (decision.verdict, decision.rejection_type) == (REJECTED, BLOCKING)
    assert codes(decision.rejections) == [(1, "10", "7", "B", "100721")]


def test_a_forced_code_the_rules_also_found_is_given_once() -> None:
    from simulator.domain.efact_processing import PriorFile

    prior = [PriorFile(DAY, "004", "040")]  # a real 100724 as well
    decision = decide(KINDS, [], FACTS, DAY, prior, force=forced(KINDS, "100724"))
    assert codes(decision.rejections) == [(1, "10", "7", "B", "100724")]


def test_forced_invoice_and_record_codes_are_answered_in_a_920098() -> None:
    for code, expected in (
        ("200820", [(2, "20", "8", "F", "200820")]),
        ("502255", [(3, "50", "22", "R", "502255")]),
    ):
        decision = decide(KINDS, [], FACTS, DAY, [], force=forced(KINDS, code))
        assert (decision.verdict, decision.rejection_type) == (ACCEPTED, "00")
        assert codes(decision.rejections) == expected


def test_forced_500119_lands_on_the_first_supplement_and_its_51_follows() -> None:
    """500119 says a secondary service falls with its main one (docs/rules.md "eFact"): it
    lands on the first supplement of `links` (record 4 supplements record 3), whose 51 then
    gets 510119; the main service is untouched and the file still accepted."""
    kinds = ["10", "20", "50", "50", "51", "80", "90"]
    links = {4: 3}
    decision = decide(kinds, [], FACTS, DAY, [], force=forced(kinds, "500119", links=links),
                      links=links)  # fmt: skip
    assert codes(decision.rejections) == [
        (4, "50", "1", "R", "500119"), (5, "51", "1", "R", "510119"),
    ]  # fmt: skip
    assert decision.verdict == ACCEPTED


# -- 101420 -----------------------------------------------------------------------------------


def test_an_unknown_third_party_is_blocking_101420() -> None:
    found = file_rules(FACTS, DAY, [], third_party_known=False)
    assert codes(found) == [(1, "10", "14", "B", "101420")]
    decision = decide(KINDS, [], FACTS, DAY, [], third_party_known=False)
    assert (decision.verdict, decision.rejection_type) == (REJECTED, BLOCKING)
    assert file_rules(FACTS, DAY, []) == []


# -- too many errors --------------------------------------------------------------------------


def test_one_record_in_error_never_refuses_a_file_however_small() -> None:
    # The CIN files: one invoice, 8 records; an unknown patient is 1 record = 12.50 %.
    found = [rejection("200820", 2, "20", "8")]
    decision = decide(BLOCK, found, FACTS, DAY, [])
    assert (decision.verdict, decision.rejection_type, decision.percentage) == (
        ACCEPTED, "00", "01250",
    )  # fmt: skip
    two = [*found, rejection("501940", 3, "50", "19")]
    decision = decide(BLOCK, two, FACTS, DAY, [])
    # 2, 3 and the 510119 cascade on 4: 3 of 8
    assert (decision.verdict, decision.rejection_type, decision.percentage) == (
        REJECTED, TOO_MANY, "03750",
    )  # fmt: skip


def test_the_minimum_is_configurable_and_at_least_one() -> None:
    found = [rejection("200820", 2, "20", "8")]
    assert not decide(BLOCK, found, FACTS, DAY, [], Rules(min_records_in_error=1)).accepted
    with pytest.raises(ValueError, match="min_records_in_error"):
        Rules(min_records_in_error=0)


# -- the settlement file agrees with the totals ------------------------------------------------


def _settlement_file(found: list[Rejection]) -> tuple[int, int, int]:
    data = small_file()
    header, records = parse(data)
    out = io.BytesIO()
    write_settlement(out, header, records, found, payment_date=date(2026, 12, 7))
    rows = [r for r in parse(out.getvalue())[1] if r.type == "91"]
    return (
        sum(int(r.zone("404")) for r in rows),
        sum(int(r.zone("412")) for r in rows),
        sum(int(r.zone("414")) for r in rows),
    )


@pytest.mark.parametrize(
    "found",
    [
        [],
        [rejection("801910", 5, "80", "19")],  # F on the first invoice's 80
        [rejection("809802", 8, "80", "98")],  # B on the second invoice's 80
        [rejection("200820", 6, "20", "8")],  # F on the second invoice's 20
        [rejection("501940", 4, "50", "19")],  # R on one service
        [rejection("502741", 3, "50", "27", letter="S")],  # a signal pays
    ],
    ids=["clean", "F-on-80", "B-on-80", "F-on-20", "R-on-50", "S-on-50"],
)
def test_the_920900_records_91_agree_with_the_settlement_totals(found: list[Rejection]) -> None:
    totals = settle(parse(small_file())[1], found, DAY)
    assert _settlement_file(found) == (totals.requested, totals.accepted, totals.rejected)


def test_an_f_on_the_record_80_leaves_the_whole_invoice_unpaid() -> None:
    # Invoice 1 (records 3 and 4, 24.00 EUR each) unpaid, invoice 2 (record 7) paid.
    assert _settlement_file([rejection("801910", 5, "80", "19")]) == (7200, 2400, 4800)
