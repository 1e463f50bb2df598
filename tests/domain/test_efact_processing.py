"""The insurer's decisions on a checked 920000: file rules, cascades, verdict, settlement."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from simulator.domain.efact_processing import (
    ACCEPTED,
    BLOCKING,
    REJECTED,
    TOO_MANY,
    FileFacts,
    PriorFile,
    Rules,
    cascade,
    decide,
    file_facts,
    file_rules,
    percentage,
    settle,
)
from simulator.efact.checks import CheckOptions, check_file
from simulator.efact.errors import Rejection, rejection
from simulator.efact.parser import parse
from tests.efact.helpers import TODAY, small_file

DAY = date(2026, 11, 23)
EFACT = FileFacts(third_party="018334780004", sending_number="005", content="040")
OTHER = FileFacts(third_party="018334780004", sending_number="005", content="000")
# small_file(): 1:10 2:20 3:50 4:50 5:80 6:20 7:50 8:80 9:90 10:95 11:95 12:96 13:96
KINDS = ["10", "20", "50", "50", "80", "20", "50", "80", "90", "95", "95", "96", "96"]


def codes(found: list[Rejection] | tuple[Rejection, ...]) -> list[tuple[int, str, str, str, str]]:
    return [(r.index, r.record_type, r.zone, r.letter, r.code) for r in found]


# -- file rules -------------------------------------------------------------------------------


def test_a_sending_number_used_earlier_in_the_year_is_blocking_100721() -> None:
    prior = [PriorFile(date(2026, 2, 1), "005", "040")]
    assert codes(file_rules(EFACT, DAY, prior)) == [(1, "10", "7", "B", "100721")]


def test_a_sending_number_of_last_year_may_be_reused() -> None:
    prior = [PriorFile(date(2025, 11, 23), "005", "040")]
    assert file_rules(EFACT, DAY, prior) == []


def test_a_second_efact_file_the_same_day_is_blocking_100724() -> None:
    prior = [PriorFile(DAY, "004", "040")]
    assert codes(file_rules(EFACT, DAY, prior)) == [(1, "10", "7", "B", "100724")]
    assert file_rules(EFACT, DAY + timedelta(days=1), prior) == []


def test_the_one_file_a_day_rule_is_for_efact_files_only() -> None:
    # Z13 = 000: the two-files-a-month rule applies instead, and one prior file is allowed.
    assert file_rules(OTHER, DAY, [PriorFile(DAY, "004", "040")]) == []


def test_a_third_other_file_in_a_month_is_blocking_100723() -> None:
    prior = [PriorFile(date(2026, 11, 2), "003", "000"), PriorFile(date(2026, 11, 9), "004", "000")]
    assert codes(file_rules(OTHER, DAY, prior)) == [(1, "10", "7", "B", "100723")]
    assert file_rules(OTHER, DAY, prior, Rules(max_other_files_per_month=3)) == []


def test_file_facts_come_from_record_10_of_a_cin_file(shared_reference: Path) -> None:
    data = (shared_reference / "samples" / "efact" / "TFAC1SC09.509E").read_bytes()
    _header, records = parse(data)
    assert file_facts(next(records)) == FileFacts("018334780004", "509", "040")


# -- cascades ---------------------------------------------------------------------------------


def test_a_rejected_50_takes_its_51_and_52_with_it_510119_520119() -> None:
    kinds = ["10", "20", "50", "51", "52", "50", "80"]
    found = cascade(kinds, [rejection("501940", 3, "50", "19")])
    assert codes(found) == [
        (3, "50", "19", "R", "501940"),
        (4, "51", "1", "R", "510119"),
        (5, "52", "1", "R", "520119"),
    ]  # the next 50 (record 6) is another block: untouched


def test_a_rejected_51_keeps_its_own_code_and_does_not_take_its_50() -> None:
    """docs/rules.md "eFact": 500119 goes from the main service to its supplement, never from
    a 51 to its 50 (the amount is the 50's; a wrong commitment is the 51's own 514225)."""
    kinds = ["10", "20", "50", "51", "52", "80"]
    found = cascade(kinds, [rejection("514225", 4, "51", "42")])
    assert codes(found) == [(4, "51", "42", "R", "514225")]


def test_a_supplement_falls_with_its_main_service_500119_and_its_51_510119() -> None:
    # 3: the consultation, 4: its night supplement, 5: the supplement's 51; 6: another 50.
    kinds = ["10", "20", "50", "50", "51", "50", "80"]
    found = cascade(kinds, [rejection("501940", 3, "50", "19")], links={4: 3})
    assert codes(found) == [
        (3, "50", "19", "R", "501940"),
        (4, "50", "1", "R", "500119"),
        (5, "51", "1", "R", "510119"),
    ]
    # The other way round, nothing: a rejected supplement leaves its consultation paid.
    assert codes(cascade(kinds, [rejection("501940", 4, "50", "19")], links={4: 3})) == [
        (4, "50", "19", "R", "501940"), (5, "51", "1", "R", "510119"),
    ]  # fmt: skip


def test_a_cascade_the_checker_already_gave_is_not_repeated() -> None:
    kinds = ["10", "20", "50", "51", "80"]
    checked = [rejection("500503", 3, "50", "5"), rejection("510119", 4, "51", "1")]
    assert codes(cascade(kinds, checked)) == codes(checked)


def test_signals_do_not_cascade() -> None:
    kinds = ["10", "20", "50", "51", "80"]
    signal = rejection("502741", 3, "50", "27", letter="S")
    assert cascade(kinds, [signal]) == [signal]


# -- verdict ----------------------------------------------------------------------------------


def test_a_clean_file_is_accepted_920098() -> None:
    decision = decide(KINDS, [], EFACT, DAY, [])
    assert (decision.verdict, decision.rejection_type, decision.percentage) == (
        ACCEPTED, "00", "00000",
    )  # fmt: skip
    assert decision.accepted and decision.rejections == ()


def test_a_blocking_error_rejects_the_whole_file_920099_type_01() -> None:
    decision = decide(KINDS, [rejection("809802", 5, "80", "98")], EFACT, DAY, [])
    assert (decision.verdict, decision.rejection_type) == (REJECTED, BLOCKING)
    assert decision.percentage == percentage(1, 13) == "00769"


def test_a_file_rule_rejects_the_whole_file_920099_type_01() -> None:
    decision = decide(KINDS, [], EFACT, DAY, [PriorFile(DAY, "004", "040")])
    assert (decision.verdict, decision.rejection_type) == (REJECTED, BLOCKING)
    assert codes(decision.rejections) == [(1, "10", "7", "B", "100724")]


def test_more_than_5_percent_records_in_error_is_920099_type_02_with_the_percentage() -> None:
    # 2 rejected records out of 13 = 15.38 % > 5 % (one alone never rejects a file)
    found = [rejection("501940", 3, "50", "19"), rejection("501940", 7, "50", "19")]
    decision = decide(KINDS, found, EFACT, DAY, [])
    assert (decision.verdict, decision.rejection_type) == (REJECTED, TOO_MANY)
    assert (decision.records_in_error, decision.records, decision.percentage) == (2, 13, "01538")


def test_exactly_5_percent_is_still_accepted_with_the_record_errors() -> None:
    kinds = ["10", *["20", "50", "80"] * 6, "90"]  # 20 records: 1 in error = 5.00 %
    assert len(kinds) == 20
    decision = decide(kinds, [rejection("501940", 3, "50", "19")], EFACT, DAY, [])
    assert (decision.verdict, decision.rejection_type, decision.percentage) == (
        ACCEPTED, "00", "00500",
    )  # fmt: skip
    assert codes(decision.rejections) == [(3, "50", "19", "R", "501940")]


def test_signals_do_not_count_as_records_in_error() -> None:
    signal = rejection("502741", 3, "50", "27", letter="S")
    decision = decide(KINDS, [signal], EFACT, DAY, [])
    assert decision.verdict == ACCEPTED and decision.records_in_error == 0


def test_the_threshold_is_configurable() -> None:
    found = [rejection("501940", 3, "50", "19"), rejection("501940", 7, "50", "19")]
    assert not decide(KINDS, found, EFACT, DAY, []).accepted
    assert decide(KINDS, found, EFACT, DAY, [], Rules(max_error_percent=20)).accepted


def test_services_older_than_two_months_are_a_fine_annotated_e500503_and_paid() -> None:
    """The INAMI FAQ: past two months, an administrative fine, not a rejection (docs/rules.md
    "eFact"): E500503 on each service, the file accepted and every service paid."""
    data = small_file()
    checked = check_file(data, CheckOptions(today=TODAY + timedelta(days=70)))
    decision = decide(KINDS, checked, EFACT, DAY, [])
    assert [(r.index, r.code, r.letter) for r in decision.rejections] == [
        (3, "500503", "E"), (4, "500503", "E"), (7, "500503", "E"),
    ]  # fmt: skip
    assert (decision.verdict, decision.rejection_type, decision.records_in_error) == (
        ACCEPTED, "00", 0,
    )  # fmt: skip
    _header, records = parse(data)
    paid = settle(records, decision.rejections, DAY)
    assert paid.rejected == 0 and paid.accepted == paid.requested > 0


def test_an_insurer_that_rejects_old_services_says_r500503_and_counts_them() -> None:
    data = small_file()
    options = CheckOptions(today=TODAY + timedelta(days=70), two_month_rule="reject")
    decision = decide(KINDS, check_file(data, options), EFACT, DAY, [])
    assert [(r.index, r.code, r.letter) for r in decision.rejections] == [
        (3, "500503", "R"), (4, "500503", "R"), (7, "500503", "R"),
    ]  # fmt: skip
    assert (decision.verdict, decision.rejection_type, decision.percentage) == (
        REJECTED, TOO_MANY, "02307",
    )  # fmt: skip


# -- settlement -------------------------------------------------------------------------------


def _records() -> list:  # type: ignore[type-arg]
    _header, records = parse(small_file())
    return list(records)


def test_settlement_pays_what_was_not_rejected_within_14_days() -> None:
    # Services: records 3, 4 (invoice 1) and 7 (invoice 2), 24.00 EUR each.
    result = settle(_records(), [rejection("501940", 4, "50", "19")], DAY)
    assert (result.requested, result.accepted, result.rejected) == (7200, 4800, 2400)
    assert result.payment_date == DAY + timedelta(days=14)


def test_an_invoice_level_rejection_rejects_every_service_of_the_invoice() -> None:
    found = [rejection("200820", 2, "20", "8")]
    assert settle(_records(), found, DAY).accepted == 2400
    found = [rejection("801910", 5, "80", "19")]  # F on the footer counts too
    assert settle(_records(), found, DAY).accepted == 2400


def test_signals_do_not_reduce_the_settlement() -> None:
    signal = rejection("502741", 3, "50", "27", letter="S")
    assert settle(_records(), [signal], DAY).accepted == 7200


def test_payment_days_cannot_exceed_14() -> None:
    assert settle(_records(), [], DAY, Rules(payment_days=3)).payment_date == date(2026, 11, 26)
    with pytest.raises(ValueError, match="payment_days 15"):
        Rules(payment_days=15)
