"""The pure rules behind the admin routes: instants, clock changes, the serve banner."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from simulator.cli.serve import banner
from simulator.clock import Clock
from simulator.config import Settings
from simulator.runtime import Simulator
from simulator.server.admin_clock import (
    ClockChange,
    apply,
    parse_advance,
    parse_clock_change,
    parse_instant,
)
from simulator.server.admin_http import AdminError


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2025-11-03T09:30:00+01:00", datetime(2025, 11, 3, 8, 30, tzinfo=UTC)),
        ("2025-11-03t08:30:00z", datetime(2025, 11, 3, 8, 30, tzinfo=UTC)),
        ("2025-07-01 12:00", datetime(2025, 7, 1, 10, 0, tzinfo=UTC)),  # Brussels summer time
        ("2025-01-01", datetime(2024, 12, 31, 23, 0, tzinfo=UTC)),  # midnight in Brussels
        ("2025-01-01T00:00:00.25Z", datetime(2025, 1, 1, 0, 0, 0, 250_000, tzinfo=UTC)),
    ],
)
def test_instants_read_as_documented(text: str, utc: datetime) -> None:
    assert parse_instant(text, "at") == utc


@pytest.mark.parametrize(
    "text",
    ["20251103", "2025-11-03T25:00:00Z", "2025-11-03T23:59:60Z", " 2025-11-03", "2025-11-03\n"],
)
def test_other_instants_are_refused_with_the_parameter_name(text: str) -> None:
    with pytest.raises(AdminError, match="since must be an ISO 8601 date-time"):
        parse_instant(text, "since")


def test_an_instant_that_overflows_is_out_of_range() -> None:
    with pytest.raises(AdminError, match="outside the clock's range"):
        parse_instant("0001-01-01T00:00:00+01:00", "at")


def test_a_clock_change_is_all_or_nothing() -> None:
    with pytest.raises(AdminError, match="frozen must be true or false"):
        parse_clock_change({"at": "2025-01-01T00:00:00Z", "frozen": 1})
    change = parse_clock_change({"at": "2025-01-01T00:00:00Z"})
    assert change == ClockChange(datetime(2025, 1, 1, tzinfo=UTC), None)


def test_apply_keeps_or_changes_the_frozen_state_as_asked() -> None:
    clock = Clock()
    at = datetime(2025, 5, 5, 5, 5, tzinfo=UTC)
    apply(clock, ClockChange(at, True))
    assert clock.frozen and clock.now() == at
    apply(clock, ClockChange(at + timedelta(days=1), None))
    assert clock.frozen and clock.now() == at + timedelta(days=1)
    apply(clock, ClockChange(None, False))
    assert not clock.frozen
    assert timedelta(0) <= clock.now() - (at + timedelta(days=1)) < timedelta(seconds=5)
    apply(clock, ClockChange(at, False))
    assert not clock.frozen and clock.now() - at < timedelta(seconds=5)


def test_advance_adds_days_and_seconds_and_stays_in_range() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert parse_advance({"days": 1.5, "seconds": -60}, now) == timedelta(hours=36, minutes=-1)
    with pytest.raises(AdminError, match="outside the clock's range"):
        parse_advance({"days": -25_000}, now)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("banner"), patients=20, providers=10)
    sim = Simulator.create(settings)
    yield sim
    sim.close()


def test_the_banner_prints_a_generated_token_only_when_exposed(sim: Simulator) -> None:
    assert "admin token" not in banner(sim)
    assert "/__admin/openapi.json" in banner(sim) and "/metrics" in banner(sim)
    sim.settings = replace(sim.settings, host="0.0.0.0")
    text = banner(sim)
    # Not the token itself (the banner ends up in logs): the file it is in, owner-only.
    assert sim.generated_admin_token not in text
    token_file = sim.settings.data_dir.resolve() / "admin-token"
    assert f"admin token: in {token_file}" in text
    assert token_file.read_text().strip() == sim.generated_admin_token
    assert token_file.stat().st_mode & 0o777 == 0o600
    sim.settings = replace(sim.settings, admin_token="mine")
    text = banner(sim)
    assert "admin token: the --admin-token value" in text
    assert "mine" not in text
