"""Hypothesis-driven mutations of valid signed requests for every operation, over HTTP.

Properties, whatever the input: no traceback text in an answer, every 5xx is a SOAP fault,
each answer within MYCARENET_FUZZ_ANSWER_BOUND seconds, a status in the allowed set, and the
server still healthy afterwards. Budget: MYCARENET_FUZZ_EXAMPLES examples per test (default
40: the suite runs in well under a minute on 2 cores); raise it for a longer run, or use
loadtests/fuzz_campaign.py for 100,000 inputs against a server in its own process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import ANSWER_BOUND_S, EXAMPLES, Target
from tests.fuzz.corpus import OPERATIONS
from tests.fuzz.mutators import LEVELS, Fuzzed, fuzz, problems

T = TypeVar("T")


class DrawChooser:
    """The mutators' choices drawn by Hypothesis, so that a failure shrinks."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data

    def integer(self, low: int, high: int) -> int:
        return self.data.draw(st.integers(low, high))

    def sample(self, values: Sequence[T]) -> T:
        return self.data.draw(st.sampled_from(values))


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _check(target: Target, item: Fuzzed) -> None:
    status, body, seconds = target.send(item)
    event(f"{item.operation} -> {status}")
    found = problems(status, body, seconds, bound=ANSWER_BOUND_S)
    assert not found, (found, item.operation, item.steps, status, body[:600])


def test_every_operation_has_a_seed(strict_target: Target, open_target: Target) -> None:
    for target in (strict_target, open_target):
        assert sorted({s.operation for s in target.seeds}) == sorted(OPERATIONS)


@pytest.mark.parametrize("level", LEVELS)
def test_mutated_requests_strict(strict_target: Target, level: str) -> None:
    @FUZZ
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        chooser = DrawChooser(data)
        _check(strict_target, fuzz(strict_target.seeds, chooser, level, strict_target.signer))

    run()


@pytest.mark.parametrize("level", LEVELS)
def test_mutated_requests_security_off(open_target: Target, level: str) -> None:
    @FUZZ
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        chooser = DrawChooser(data)
        _check(open_target, fuzz(open_target.seeds, chooser, level, open_target.signer))

    run()


def test_the_servers_stay_responsive(strict_target: Target, open_target: Target) -> None:
    """After everything above, both still answer their health check and an unmutated seed."""
    for target in (strict_target, open_target):
        assert target.health() == 200
        seed = next(s for s in target.seeds if s.operation == "etkdepot")  # unsigned: replayable
        status, _body, seconds = target.send(
            Fuzzed(seed.operation, seed.path, seed.headers, seed.body, ())
        )
        assert status == 200 and seconds < ANSWER_BOUND_S


def test_no_unhandled_error_was_logged(strict_target: Target, open_target: Target) -> None:
    """The pipeline turns a bug into SOA-00001 and logs it: the fuzzer reports every one."""
    messages = sorted({
        f"{r.getMessage()}: {r.exc_info[1]!r:.200}" if r.exc_info else r.getMessage()
        for target in (strict_target, open_target) for r in target.unhandled.records
    })  # fmt: skip
    assert not messages, "\n".join(messages)
