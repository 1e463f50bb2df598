"""`serve --journal-*` flags reach the store's retention policy; the defaults keep a million
requests under 2 GB."""

from __future__ import annotations

from datetime import timedelta

import pytest

from simulator.cli.main import build_parser
from simulator.config import Settings
from simulator.runtime import journal_policy
from simulator.store.base import JournalBodies, JournalPolicy


def _serve(*options: str) -> Settings:
    args = build_parser().parse_args(["serve", *options])
    return Settings(
        journal_bodies=args.journal_bodies,
        journal_max_rows=args.journal_max_rows,
        journal_max_age_s=args.journal_max_age,
    )


def test_the_flags_set_the_policy() -> None:
    policy = journal_policy(
        _serve(
            "--journal-bodies", "errors", "--journal-max-rows", "1_000", "--journal-max-age", "12h"
        )
    )
    assert policy == JournalPolicy(JournalBodies.ERRORS, 1000, timedelta(hours=12))
    unlimited = journal_policy(_serve("--journal-max-rows", "0", "--journal-max-age", "0"))
    assert unlimited.max_rows is None and unlimited.max_age is None
    assert journal_policy(_serve("--journal-max-age", "90")).max_age == timedelta(seconds=90)


def test_the_defaults_keep_bodies_and_bound_the_journal() -> None:
    policy = journal_policy(_serve())
    assert policy.bodies is JournalBodies.ALL
    assert policy.max_age == timedelta(days=7)
    # ~2.5 KB a signed eTar exchange with its bodies (loadtests/bench_soak.py).
    assert policy.max_rows is not None and policy.max_rows * 2_500 < 2 * 10**9


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--journal-max-age", "soon"),
        ("--journal-max-age", "-1d"),
        ("--journal-max-rows", "-5"),
        ("--journal-bodies", "some"),
    ],
)
def test_bad_values_are_refused(flag: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", flag, value])
    assert flag in capsys.readouterr().err
