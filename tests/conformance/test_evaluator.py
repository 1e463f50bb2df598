"""Each expectation kind passes on the journal it describes and fails, with an explanation
naming the entry, on one that breaks it."""

from __future__ import annotations

import io
from datetime import date

import pytest

from simulator.conformance.evaluator import CaseFacts, Failure, check_one
from simulator.conformance.journal_view import EntryView
from simulator.conformance.model import (
    AtMostPerDay,
    Before,
    Check,
    Content,
    EfactZone,
    Expectation,
    FollowedBy,
    NoneAfter,
    Requests,
    Select,
    ValidRequests,
)
from simulator.domain.population import build_population
from simulator.efact.generator import Spec, generate
from simulator.store.base import JournalEntry
from tests.conformance.journal import (
    FAULT,
    OTHER,
    PATIENT,
    PROVIDER,
    entry,
    envelope_with_detail,
)

FACTS = CaseFacts(PATIENT, PROVIDER)
SEND = Select(service="eattest", operation="SendAttestation")
MDA = Select(service="memberdata", operation="MemberDataConsultation")
KMEHR = (
    b'<k:kmehrmessage xmlns:k="http://www.ehealth.fgov.be/standards/kmehr/schema/v1">'
    b'<k:patient><k:id S="ID-PATIENT">93062644690</k:id></k:patient></k:kmehrmessage>'
)


def failures(expectation: Expectation, *entries: JournalEntry) -> list[Failure]:
    views = [EntryView(e) for e in entries]
    return check_one(Check("says", expectation), views, FACTS)


def test_valid_requests_passes_on_answered_requests_and_fails_on_transport_faults() -> None:
    good = [entry(), entry(outcome="business-error", code="196")]
    assert failures(ValidRequests(), *good) == []
    bad = entry(outcome="fault", code="SOA-03006", response=FAULT.format(reason="line 3: Foo"))
    (failure,) = failures(ValidRequests(), *good, bad)
    assert failure.entry_id == bad.id and failure.got == "fault SOA-03006"
    assert "line 3: Foo" in failure.message


def test_valid_requests_fails_on_a_security_verdict_rejected() -> None:
    lenient = entry(verdict="rejected")
    (failure,) = failures(ValidRequests(), lenient)
    assert failure.where == "soap:Header/wsse:Security" and failure.got == "rejected"


def test_requests_counts_only_the_case_patient_by_default() -> None:
    one = Requests(SEND, minimum=1, maximum=1)
    assert failures(one, entry(), entry(patient=OTHER)) == []
    (too_many,) = failures(one, entry(), second := entry())
    assert too_many.entry_id == second.id and too_many.got == "2" and too_many.expected
    (none,) = failures(Requests(SEND), entry(patient=OTHER))
    assert none.got == "0" and "eattest.SendAttestation ok" in none.message


def test_requests_filters_on_outcome_and_codes() -> None:
    refused = Requests(Select("eattest", outcome="business-error", codes=("238", "191")))
    assert failures(refused, entry(outcome="business-error", code="191")) == []
    assert failures(refused, entry(outcome="business-error", code="196")) != []


def test_before_needs_a_prior_call_for_the_same_patient() -> None:
    rule = Before(first=MDA, then=SEND)
    assert failures(rule, entry("memberdata", "MemberDataConsultation"), entry()) == []
    (failure,) = failures(rule, send := entry(), entry("memberdata", "MemberDataConsultation"))
    assert failure.entry_id == send.id and "without a prior" in failure.message


def test_followed_by_needs_a_later_call() -> None:
    get = Select("genasync", "get", patient="any")
    confirm = Select("genasync", "confirm", patient="any")
    rule = FollowedBy(get, confirm)
    assert failures(rule, entry("genasync", "get"), entry("genasync", "confirm")) == []
    (failure,) = failures(rule, entry("genasync", "confirm"), last := entry("genasync", "get"))
    assert failure.entry_id == last.id and "never followed" in failure.message


def test_none_after_forbids_a_resend_after_a_refusal() -> None:
    rule = NoneAfter(trigger=Select("eattest", outcome="business-error"), then=SEND)
    assert failures(rule, entry(outcome="business-error", code="196")) == []
    assert failures(rule, entry(), entry()) == []  # nothing refused: nothing forbidden
    first = entry(outcome="business-error", code="196")
    (failure,) = failures(rule, first, resend := entry(outcome="business-error", code="196"))
    assert failure.entry_id == resend.id and f"#{first.id}" in failure.message


def test_content_reads_the_decoded_detail_and_fills_in_the_patient() -> None:
    request = envelope_with_detail(KMEHR)
    rule = Content(SEND, "//kmehr:patient/kmehr:id[@S='ID-PATIENT']", equals="{patient}")
    assert failures(rule, entry(request=request)) == []
    other = envelope_with_detail(KMEHR.replace(b"93062644690", b"74121595044"))
    (failure,) = failures(rule, entry(request=other))
    assert (failure.expected, failure.got) == ("'93062644690'", "'74121595044'")
    assert failure.where == "//kmehr:patient/kmehr:id[@S='ID-PATIENT']"


def test_content_that_is_sealed_without_a_key_says_so() -> None:
    sealed = envelope_with_detail(b"\x30\x80", ContentEncryption="encryptedForKnownBED")
    (failure,) = failures(Content(SEND, "//kmehr:id"), entry(request=sealed))
    assert "no insurer key" in failure.message


def test_content_absent_and_envelope_scope() -> None:
    request = envelope_with_detail(KMEHR)
    assert failures(Content(SEND, "//kmehr:cd", exists=False), entry(request=request)) == []
    assert failures(Content(SEND, "//kmehr:id", exists=False), entry(request=request)) != []
    assert failures(Content(SEND, "//soap:Body", scope="envelope"), entry()) == []


def _efact_file(sending_number: int) -> bytes:
    population = build_population(seed=7, patients=60, providers=20, today=date(2025, 11, 17))
    out = io.BytesIO()
    generate(
        out, population, Spec(invoices=1, today=date(2025, 11, 17), sending_number=sending_number)
    )
    return out.getvalue()


@pytest.fixture(scope="module")
def efact_posts() -> tuple[str, str]:
    return (
        envelope_with_detail(_efact_file(11), MessageName="HCPFAC"),
        envelope_with_detail(_efact_file(12), MessageName="HCPFAC"),
    )


def test_efact_zone_reads_the_posted_file(efact_posts: tuple[str, str]) -> None:
    first, second = efact_posts
    posts = [entry("genasync", "post", patient=None, request=r) for r in (first, second)]
    assert failures(EfactZone("10", "7", differs_between_posts=True), *posts) == []
    (failure,) = failures(EfactZone("10", "7", differs_between_posts=True), posts[0],
                          entry("genasync", "post", patient=None, request=first))  # fmt: skip
    assert failure.where == "record 10 zone 7" and "the same value" in failure.message
    (wrong,) = failures(EfactZone("10", "7", equals="999"), posts[0])
    assert wrong.expected == "999" and wrong.got is not None


def test_at_most_per_day_counts_invoice_files_per_day(efact_posts: tuple[str, str]) -> None:
    rule = AtMostPerDay(Select("genasync", "post", patient="any"), maximum=1)
    first, second = efact_posts
    monday = entry("genasync", "post", patient=None, request=first)
    tuesday = entry(
        "genasync", "post", patient=None, request=second, at="2025-11-18T09:00:00+00:00"
    )
    assert failures(rule, monday, tuesday) == []
    again = entry("genasync", "post", patient=None, request=second)
    (failure,) = failures(rule, monday, again)
    assert failure.entry_id == again.id and failure.got == f"#{monday.id}, #{again.id}"


def test_efact_zone_within_months_judges_service_dates_on_the_day_of_the_post(
    efact_posts: tuple[str, str],
) -> None:
    post = entry("genasync", "post", patient=None, request=efact_posts[0])
    assert failures(EfactZone("50", "5", within_months=2), post) == []
    # The same services billed three months later are older than two months.
    late = entry("genasync", "post", patient=None, request=efact_posts[0],
                 at="2026-02-20T09:00:00+00:00")  # fmt: skip
    (failure,) = failures(EfactZone("50", "5", within_months=2), late)
    assert failure.entry_id == late.id and failure.where == "record 50 zone 5"
    assert failure.expected == "20251220 or later" and "older than 2 months" in failure.message
