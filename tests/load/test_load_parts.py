"""The load suites' parts that need no server: file numbering, answer bookkeeping, summary.

They import no locust (whose import monkey-patches the whole process with gevent), so they
run wherever the package does.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest

from simulator.config import Settings
from simulator.domain import efact_processing as rules
from simulator.domain.population import build_population
from simulator.efact.parser import parse
from simulator.loadtests import efact_files
from simulator.loadtests.answers import Answers, posted_ms, reference
from simulator.loadtests.summary import ANSWER_TYPE, answer_name, summarise
from simulator.loadtests.transport import run_sync

DAY = date(2026, 3, 2)


@pytest.fixture(scope="module")
def population() -> Any:
    settings = Settings()
    return build_population(settings.seed, 300, 40, DAY)


def test_the_sending_number_is_the_day_of_the_year() -> None:
    assert efact_files.sending_number(date(2026, 1, 1)) == 1
    assert efact_files.sending_number(DAY) == 61
    assert efact_files.sending_number(date(2028, 12, 31)) == 366  # leap year: still 3 digits


def test_a_billing_file_is_the_users_own(population: Any) -> None:
    gp = population.providers_of_kind("GP")[3]
    billing = efact_files.billing_population(population, gp.nihii)
    assert billing.providers_of_kind("GP")[0] == gp
    assert {p.situation for p in billing.patients} == {"random"}
    made = efact_files.billing_file(billing, union="300", day=DAY, invoices=5, seed=9)
    _, records = parse(made.content)
    record10 = next(iter(records))
    facts = rules.file_facts(record10)
    assert (facts.third_party[1:], facts.sending_number) == (gp.nihii, "061")
    assert made.records == len(list(parse(made.content)[1]))
    assert (made.union, made.sending_number) == ("300", 61)


def test_a_users_files_never_bill_a_patients_day_twice(population: Any) -> None:
    # Many files of one GP to one union, on successive business days as a long run sends
    # them: drawn without the second contact the insurer's ledger would refuse.
    billing = efact_files.billing_population(
        population, population.providers_of_kind("GP")[0].nihii
    )
    billed: set[tuple[str, date]] = set()
    seen: list[tuple[str, date]] = []
    for number in range(30):
        day = date.fromordinal(DAY.toordinal() + number)
        made = efact_files.billing_file(
            billing, union="300", day=day, invoices=10, seed=number, billed=billed
        )
        _, records = parse(made.content)
        seen += [
            (b.service.patient, b.service.day) for b in rules.billed_services(records, "300", "f")
        ]
    assert len(seen) == len(set(seen)) == len(billed)
    unguarded = set()
    clashes = 0
    for number in range(30):  # the same draws without `billed` do meet again
        day = date.fromordinal(DAY.toordinal() + number)
        made = efact_files.billing_file(billing, union="300", day=day, invoices=10, seed=number)
        _, records = parse(made.content)
        pairs = {
            (b.service.patient, b.service.day) for b in rules.billed_services(records, "300", "f")
        }
        clashes += len(pairs & unguarded)
        unguarded |= pairs
    assert clashes > 0


def test_answers_are_timed_once_and_repeats_are_told() -> None:
    hook = Hook()
    fired = hook.fired
    answers = Answers(hook)
    ref = reference(7, 1, 1_000)
    assert posted_ms(ref) == 1_000 and posted_ms("someone else's") is None
    answers.posted(ref, records=12)
    assert answers.unanswered == 1
    assert answers.receive("931000", ref, 10) is None
    assert answers.receive("920098", ref, 10) is None
    assert answers.unanswered == 0
    assert answers.receive("920099", ref, 10) == "duplicate answers"  # a second verdict
    assert answers.receive("920900", ref, 10) is None
    assert answers.receive("920900", ref, 10) == "duplicate answers"  # after it was done
    assert answers.receive("920098", "LT1-1-5", 10) == "unexpected answers"
    assert [s["name"] for s in fired] == [answer_name("920098"), answer_name("920900")]
    assert all(s["response_time"] > 0 for s in fired)


def test_the_summary_counts_requests_apart_from_answer_times() -> None:
    stats = Stats(
        {
            ("genasync post", "POST"): Entry(2, 0, 100.0, 104.0),
            ("genasync get", "POST"): Entry(5, 1, 100.0, 110.0),
            (answer_name("920098"), ANSWER_TYPE): Entry(2, 0, 101.0, 111.0, p50=1500),
        },
        total=Entry(9, 1, 100.0, 110.0),
    )
    summary = summarise("efact", stats, 1, {"files": 2, "records": 80, "unanswered": 1})
    assert summary.requests == {"genasync get": 5, "genasync post": 2}
    assert summary.time_to["920098"].count == 2
    assert summary.time_to["920098"].p50_ms == 1500
    assert (summary.files, summary.records) == (2, 80)
    assert (summary.files_per_s, summary.records_per_s) == (0.5, 20.0)  # over the 4 s of posts
    assert summary.requests_per_s == 0.7  # 7 SOAP calls in 10 s
    assert summary.errors == 1 + 1 + 1  # a failed get, an exception, a file unanswered
    assert "2 files, 80 records" in summary.text()
    assert summary.request_ms is None  # the total mixes in the answer times


def test_a_synchronous_summary_gives_the_round_trips() -> None:
    stats = Stats(
        {("etar TarificationConsultation", "POST"): Entry(30, 0, 100.0, 110.0, p50=25)},
        total=Entry(30, 0, 100.0, 110.0, p50=25),
    )
    summary = summarise("sync", stats, 0, {})
    assert summary.request_ms is not None and summary.request_ms.p50_ms == 25
    assert (summary.requests_per_s, summary.errors, summary.files) == (3.0, 0, 0)
    assert "round trip p50 25 ms" in summary.text()
    assert "posted" not in summary.text()


def test_run_sync_refuses_a_call_that_waits() -> None:
    async def ready() -> int:
        return 4

    async def waits() -> None:
        await asyncio.sleep(0)

    assert run_sync(ready()) == 4
    with pytest.raises(RuntimeError, match="waited"):
        run_sync(waits())


@dataclass
class Hook:
    fired: list[dict[str, Any]] = field(default_factory=list)

    def fire(self, *, reverse: bool = False, **sample: Any) -> None:
        self.fired.append(sample)


@dataclass
class Entry:
    """The part of locust's StatsEntry the summary reads."""

    num_requests: int
    num_failures: int
    start_time: float
    last_request_timestamp: float
    p50: float = 0.0

    def get_response_time_percentile(self, quantile: float) -> float:
        return self.p50


@dataclass
class Stats:
    entries: dict[tuple[str, str], Entry]
    total: Entry
