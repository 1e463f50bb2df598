"""The insurer's memory (ledger_rules): each FAQ code from its real cause, and properties."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.domain import nomenclature
from simulator.domain.identifiers import is_valid_nomenclature_code, make_nihii
from simulator.domain.ledger_rules import (
    DUPLICATE,
    EATTEST_CODES,
    NOT_CUMULABLE,
    PROSTHESIS_STAGES,
    RENEWAL_DELAY,
    TOOTH_LIMIT,
    Channel,
    HistoryScope,
    LedgerService,
    constraints,
    declares_distinct,
    history_scope,
    judge,
    judge_all,
    parse_constraints,
    without,
)

DAY = date(2026, 3, 10)
GP = make_nihii("100001", "003")
OTHER_GP = make_nihii("100002", "004")
DENTIST = make_nihii("300001", "001")
PATIENT = "85073003328"


def _service(code: str = "101032", **changes: Any) -> LedgerService:
    service = LedgerService("100", PATIENT, code, DAY, GP, Channel.EATTEST, "a", 0)
    return dataclasses.replace(service, **changes)


def _codes(history: list[LedgerService], new: LedgerService) -> list[str]:
    return [finding.code for finding in judge(history, new)]


# -- 502255: the same consultation again ---------------------------------------------------------


def test_the_same_consultation_by_the_same_gp_the_same_day_is_502255() -> None:
    earlier = _service()
    again = _service(source="b")
    (finding,) = judge([earlier], again)
    assert (finding.code, finding.conflict, finding.eattest_code) == (DUPLICATE, earlier, "190")


def test_across_channels_and_files() -> None:
    # Attested by eAttest, then billed by eFact (or in a later eFact file): the same duplicate.
    attested = _service()
    billed = _service(channel=Channel.EFACT, source="file-2/invoice-1")
    assert _codes([attested], billed) == [DUPLICATE]
    assert _codes([billed], _service(channel=Channel.EFACT, source="file-3/1")) == [DUPLICATE]


def test_twice_in_one_invoice_is_caught_by_judge_all() -> None:
    first, second = _service(source="f/1", line=0), _service(source="f/1", line=1)
    assert [f.code for f in judge_all([], [first, second])] == [DUPLICATE]
    assert [f.service for f in judge_all([], [first, second])] == [second]


def test_two_units_of_a_consultation_on_one_line_exceed_the_maximum() -> None:
    assert _codes([], _service(quantity=2)) == [DUPLICATE]


def test_a_second_gps_contact_and_other_days_are_not_duplicates() -> None:
    earlier = _service()
    assert _codes([earlier], _service(source="b", provider=OTHER_GP)) == []
    # Same person, another qualification (accreditation changes the last 3 digits).
    same_person = GP[:8] + "004"
    assert _codes([earlier], _service(source="b", provider=same_person)) == [DUPLICATE]
    assert _codes([earlier], _service(source="b", day=DAY + timedelta(days=1))) == []


def test_a_declared_distinct_contact_is_not_a_duplicate() -> None:
    assert _codes([_service()], _service(source="b", distinct=True)) == []
    assert declares_distinct("01") and declares_distinct("04")
    assert not declares_distinct("00") and not declares_distinct(None)
    assert not declares_distinct("99")


def test_other_patients_and_other_insurers_are_not_the_history() -> None:
    earlier = _service()
    assert _codes([dataclasses.replace(earlier, patient="17073003384")], _service(source="b")) == []
    assert _codes([dataclasses.replace(earlier, insurer="300")], _service(source="b")) == []


# -- 500444: not cumulable the same session -----------------------------------------------------


def test_a_consultation_and_a_home_visit_by_one_gp_the_same_day_is_500444() -> None:
    visit = _service("103132")
    (finding,) = judge([visit], _service(source="b"))
    assert (finding.code, finding.eattest_code) == (NOT_CUMULABLE, "192")
    assert _codes([visit], _service(source="b", provider=OTHER_GP)) == []
    assert _codes([visit], _service(source="b", distinct=True)) == []


def test_the_dental_exam_does_not_cumulate_with_a_dental_consultation() -> None:
    exam = _service("371571", provider=DENTIST)
    assert _codes([exam], _service("371011", provider=DENTIST, source="b")) == [NOT_CUMULABLE]


# -- 500447: renewal delay --------------------------------------------------------------------


def test_the_annual_oral_exam_twice_in_a_calendar_year_is_500447() -> None:
    exam = _service("371571", provider=DENTIST, day=date(2026, 1, 15))
    later = _service("371571", provider=DENTIST, source="b", day=date(2026, 11, 2))
    (finding,) = judge([exam], later)
    assert (finding.code, finding.conflict, finding.eattest_code) == (RENEWAL_DELAY, exam, "190")
    # By another dentist too: the entitlement is the patient's.
    assert _codes([exam], dataclasses.replace(later, provider=make_nihii("300002", "001"))) == [
        RENEWAL_DELAY
    ]
    next_year = dataclasses.replace(later, day=date(2027, 1, 2))
    assert _codes([exam], next_year) == []


# -- 502258: per tooth --------------------------------------------------------------------------


def test_a_tooth_extracted_twice_is_502258() -> None:
    extraction = _service("303166", provider=DENTIST, tooth="36", day=DAY - timedelta(days=400))
    again = _service("303166", provider=DENTIST, tooth="36", source="b")
    assert _codes([extraction], again) == [TOOTH_LIMIT]
    assert _codes([extraction], dataclasses.replace(again, tooth="37")) == []
    assert _codes([extraction], dataclasses.replace(again, tooth=None)) == []  # no tooth: no rule


# -- 500415: prosthesis stages --------------------------------------------------------------------


def test_a_prosthesis_placed_without_its_stages_is_500415() -> None:
    placement = _service("307053", provider=DENTIST, source="p")
    assert _codes([], placement) == [PROSTHESIS_STAGES]
    impression = _service("307016", provider=DENTIST, day=DAY - timedelta(days=30))
    try_in = _service("307031", provider=DENTIST, day=DAY - timedelta(days=10), source="t")
    assert _codes([impression], placement) == [PROSTHESIS_STAGES]
    assert _codes([impression, try_in], placement) == []
    # Stages billed in the same file, before the placement, count.
    assert judge_all([], [impression, try_in, placement]) == ()
    # A stage more than a year old does not.
    old = dataclasses.replace(impression, day=DAY - timedelta(days=400))
    assert _codes([old, try_in], placement) == [PROSTHESIS_STAGES]


# -- the table ----------------------------------------------------------------------------------


def test_every_constraint_names_valid_codes_and_a_code_eattest_knows() -> None:
    table = constraints()  # parsing checks every rule's sources and certainty
    groups: list[frozenset[str]] = [
        *(rule.codes for rule in table.max_units_per_day),
        *(rule.codes for rule in table.not_cumulable),
        *(rule.codes for rule in table.renewal),
        *(rule.codes for rule in table.per_tooth),
        *(frozenset({rule.final, *rule.requires}) for rule in table.stages),
    ]
    assert all(is_valid_nomenclature_code(code) for group in groups for code in group)
    findings = {
        *(rule.code for rule in table.max_units_per_day),
        *(rule.code for rule in table.not_cumulable),
        *(rule.code for rule in table.renewal),
        *(rule.code for rule in table.per_tooth),
        *(rule.code for rule in table.stages),
    }
    assert findings == set(EATTEST_CODES)
    # Consultations and visits of the nomenclature table are all limited per day.
    limited = table.max_units_per_day[0].codes
    for entry in nomenclature.TABLE.values():
        if entry.category in (
            nomenclature.Category.GP_CONSULTATION,
            nomenclature.Category.GP_VISIT,
        ):
            assert entry.code in limited


def test_a_rule_without_sources_is_refused() -> None:
    renewal: dict[str, Any] = {
        "name": "x",
        "codes": ["371571"],
        "period": "30 days",
        "code": "500447",
    }
    document = {
        "sources": {"S": "a source"},
        "exemption_codes": {"values": ["00"], "none": "00", "distinct_contact": "01"},
        "renewal": [renewal],
    }
    with pytest.raises(ValueError, match="sources"):
        parse_constraints(document)
    renewal |= {"sources": ["S"], "certainty": "A"}
    table = parse_constraints(document)
    assert table.renewal[0].too_soon(DAY, DAY + timedelta(days=29))
    assert not table.renewal[0].too_soon(DAY, DAY + timedelta(days=30))


# -- properties -----------------------------------------------------------------------------------

_CODES = (
    "101032", "101076", "103132", "102432", "371011", "371571", "303166", "307016", "307031",
    "307053",
)  # fmt: skip
_services = st.builds(
    LedgerService,
    insurer=st.sampled_from(("100", "300")),
    patient=st.sampled_from((PATIENT, "17073003384")),
    code=st.sampled_from(_CODES),
    day=st.dates(min_value=date(2025, 9, 1), max_value=date(2026, 12, 31)),
    provider=st.sampled_from((GP, OTHER_GP, DENTIST)),
    channel=st.sampled_from(tuple(Channel)),
    source=st.sampled_from(("s1", "s2", "s3", "s4")),
    line=st.integers(0, 3),
    quantity=st.integers(1, 2),
    tooth=st.sampled_from((None, "36", "11")),
    distinct=st.booleans(),
)


@given(st.lists(_services, max_size=12), _services)
def test_a_service_never_conflicts_with_itself(
    history: list[LedgerService], new: LedgerService
) -> None:
    for finding in judge([*history, new], new):
        assert finding.conflict is None or finding.conflict.key != new.key


@given(st.lists(_services, max_size=12), _services)
def test_once_cancelled_a_source_leaves_no_trace(
    history: list[LedgerService], new: LedgerService
) -> None:
    # Recorded, then cancelled: judging it again is as if it had never been recorded.
    before = judge(without(history, new.source), new)
    recorded = [*history, new] if not judge(history, new) else history
    assert judge(without(recorded, new.source), new) == before


@given(st.lists(_services, max_size=12), _services)
def test_findings_only_grow_with_history(history: list[LedgerService], new: LedgerService) -> None:
    # More history never makes a refused service acceptable, except prosthesis stages, which
    # history satisfies.
    more = {f.code for f in judge(history, new)} - {PROSTHESIS_STAGES}
    fewer = {f.code for f in judge(history[: len(history) // 2], new)} - {PROSTHESIS_STAGES}
    assert fewer <= more


@given(st.lists(_services, max_size=12), _services)
def test_nothing_applies_across_patients_or_insurers(
    history: list[LedgerService], new: LedgerService
) -> None:
    strangers = [s for s in history if s.patient != new.patient or s.insurer != new.insurer]
    # Without history only what the service is by itself: too many units, missing stages.
    alone = {PROSTHESIS_STAGES, DUPLICATE, TOOTH_LIMIT}
    assert {f.code for f in judge(strangers, new)} <= alone
    assert all(f.conflict is None for f in judge(strangers, new))


@given(st.lists(_services, max_size=12), _services)
def test_a_distinct_contact_is_never_a_duplicate_nor_a_cumulation(
    history: list[LedgerService], new: LedgerService
) -> None:
    distinct = dataclasses.replace(new, distinct=True, quantity=1)
    assert {f.code for f in judge(history, distinct)}.isdisjoint({DUPLICATE, NOT_CUMULABLE})


# -- the part of the history the rules read ------------------------------------------------------


@given(st.lists(_services, max_size=30), st.lists(_services, min_size=1, max_size=4))
def test_judging_within_the_history_scope_finds_what_the_whole_history_finds(
    history: list[LedgerService], new: list[LedgerService]
) -> None:
    # The store reads only the scope (a file's judging stays flat as the ledger grows): that
    # must never change a finding.
    scope = history_scope(new)
    within = [old for old in history if scope.covers(old.day)]
    assert judge_all(within, new) == judge_all(history, new)


def test_the_scope_follows_the_rules() -> None:
    consultation = _service()
    assert history_scope([consultation]) == HistoryScope(days=frozenset({DAY}))
    exam = _service(next(iter(constraints().renewal[0].codes)), provider=DENTIST)
    assert history_scope([exam]).years == {DAY.year}
    late_stage = _service(constraints().stages[0].final, provider=DENTIST, day=date(2026, 1, 5))
    assert history_scope([late_stage]).years == {2025, 2026}  # its stages' window
    extraction = _service(next(iter(constraints().per_tooth[0].codes)), tooth="36")
    assert history_scope([extraction, consultation]).whole
    assert history_scope([_service("999999")]) == HistoryScope()  # no rule reads a history
