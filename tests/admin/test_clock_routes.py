"""The clock through the admin API: set, freeze, advance, and every rule follows it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tests.admin.conftest import Admin


@pytest.fixture(autouse=True)
async def real_time(admin: Admin) -> None:
    await admin.call("POST", "/__admin/reset", json={"clock": True})


async def test_the_clock_runs_in_real_time_by_default(admin: Admin) -> None:
    answer = await admin.call("GET", "/__admin/clock")
    assert answer.status == 200
    now = datetime.fromisoformat(answer.body["now"])
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)
    assert answer.body["frozen"] is False


async def test_set_and_freeze_moves_today_health_and_the_rules(admin: Admin) -> None:
    # Naive = Brussels time: 00:30 on 1 Nov in Brussels is still 31 Oct in UTC.
    answer = await admin.call(
        "PUT", "/__admin/clock", json={"at": "2025-11-01T00:30:00", "frozen": True}
    )
    assert answer.status == 200
    assert answer.body == {
        "now": "2025-10-31T23:30:00+00:00",
        "today": "2025-11-01",
        "frozen": True,
    }
    assert admin.sim.clock.today() == date(2025, 11, 1)
    health = await admin.call("GET", "/__admin/health")
    assert health.body["clock"] == "2025-10-31T23:30:00+00:00"
    # A real exchange is received at the simulated instant.
    assert await admin.etk() == 200
    journal = await admin.call("GET", "/__admin/journal?service=etkdepot&bodies=false")
    assert [e["at"] for e in journal.body["entries"]] == ["2025-10-31T23:30:00+00:00"]


async def test_setting_a_running_clock_keeps_it_running(admin: Admin) -> None:
    answer = await admin.call("PUT", "/__admin/clock", json={"at": "2030-01-01T12:00:00Z"})
    assert answer.body["frozen"] is False
    assert answer.body["today"] == "2030-01-01"
    assert admin.sim.clock.now() >= datetime(2030, 1, 1, 12, tzinfo=UTC)


async def test_unfreezing_runs_on_from_the_simulated_instant(admin: Admin) -> None:
    await admin.call("PUT", "/__admin/clock", json={"at": "2025-06-01T10:00:00Z", "frozen": True})
    answer = await admin.call("PUT", "/__admin/clock", json={"frozen": False})
    assert answer.body["frozen"] is False
    now = datetime.fromisoformat(answer.body["now"])
    assert timedelta(0) <= now - datetime(2025, 6, 1, 10, tzinfo=UTC) < timedelta(seconds=5)


async def test_advance_by_days_and_seconds(admin: Admin) -> None:
    await admin.call("PUT", "/__admin/clock", json={"at": "2025-10-31T22:00:00Z", "frozen": True})
    answer = await admin.call("POST", "/__admin/clock/advance", json={"days": 1, "seconds": 90})
    assert answer.status == 200
    assert answer.body["now"] == "2025-11-01T22:01:30+00:00"
    assert answer.body["today"] == "2025-11-01"
    back = await admin.call("POST", "/__admin/clock/advance", json={"days": -0.5})
    assert back.body["now"] == "2025-11-01T10:01:30+00:00"


async def test_reset_with_clock_goes_back_to_real_time(admin: Admin) -> None:
    await admin.call("PUT", "/__admin/clock", json={"at": "2001-01-01T00:00:00Z", "frozen": True})
    answer = await admin.call("POST", "/__admin/reset", json={"clock": True})
    assert answer.body == {"reset": ["journal", "records", "scenario", "clock"]}
    assert admin.sim.clock.frozen is False
    assert abs(admin.sim.clock.now() - datetime.now(UTC)) < timedelta(seconds=5)


@pytest.mark.parametrize(
    ("method", "path", "body", "message"),
    [
        ("PUT", "/__admin/clock", {}, 'give "at"'),
        ("PUT", "/__admin/clock", {"at": "yesterday"}, "at must be an ISO 8601 date-time"),
        ("PUT", "/__admin/clock", {"at": "2025-02-30T00:00:00"}, "'2025-02-30T00:00:00'"),
        ("PUT", "/__admin/clock", {"at": 1700000000}, "at must be an ISO 8601 date-time string"),
        ("PUT", "/__admin/clock", {"at": "1900-01-01T00:00:00Z"}, "outside the clock's range"),
        ("PUT", "/__admin/clock", {"frozen": "yes"}, "frozen must be true or false"),
        ("PUT", "/__admin/clock", {"at": "2025-01-01", "tz": "UTC"}, "unknown key(s) 'tz'"),
        ("PUT", "/__admin/clock", [1], "expected a JSON object"),
        ("POST", "/__admin/clock/advance", {}, 'give "seconds" and/or "days"'),
        ("POST", "/__admin/clock/advance", {"days": "1"}, "days must be a number"),
        ("POST", "/__admin/clock/advance", {"seconds": True}, "seconds must be a number"),
        ("POST", "/__admin/clock/advance", {"days": 1e9}, "would leave the clock's range"),
        ("POST", "/__admin/clock/advance", {"days": 370_000}, "outside the clock's range"),
    ],
)
async def test_bad_clock_requests_are_refused_and_change_nothing(
    admin: Admin, method: str, path: str, body: object, message: str
) -> None:
    await admin.call("PUT", "/__admin/clock", json={"at": "2025-03-01T08:00:00Z", "frozen": True})
    answer = await admin.call(method, path, json=body)
    assert answer.status == 400
    assert message in answer.body["error"]
    assert admin.sim.clock.now() == datetime(2025, 3, 1, 8, tzinfo=UTC)
    assert admin.sim.clock.frozen


@pytest.mark.parametrize("raw", [b"", b"{", b'{"seconds": NaN}', b'{"days": Infinity}'])
async def test_bodies_that_are_not_json_are_refused(admin: Admin, raw: bytes) -> None:
    answer = await admin.call(
        "POST", "/__admin/clock/advance", data=raw, headers={"Content-Type": "application/json"}
    )
    assert answer.status == 400
    assert "JSON" in answer.body["error"] or "body is empty" in answer.body["error"]
