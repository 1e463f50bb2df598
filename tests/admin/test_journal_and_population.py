"""Journal filters and the population page: good values filter, bad ones say what is wrong."""

from __future__ import annotations

import pytest

from tests.admin.conftest import Admin


@pytest.fixture(autouse=True)
async def three_calls(admin: Admin) -> None:
    """Two ETK calls on 1 Nov (Brussels), one failing as unknown, and one on 3 Nov."""
    await admin.call("POST", "/__admin/reset", json={"clock": True})
    await admin.call("PUT", "/__admin/scenario", json={"shipped": "default"})
    await admin.call("PUT", "/__admin/clock", json={"at": "2025-11-01T10:00:00", "frozen": True})
    assert await admin.etk() == 200
    assert await admin.etk("SSIN", "93062644690") == 200  # no such ETK: DataNotFound
    await admin.call("PUT", "/__admin/clock", json={"at": "2025-11-03T10:00:00"})
    assert await admin.etk() == 200


async def journal(admin: Admin, query: str) -> list[dict[str, object]]:
    answer = await admin.call("GET", f"/__admin/journal?{query}")
    assert answer.status == 200, answer.body
    assert answer.body["count"] == len(answer.body["entries"])
    entries: list[dict[str, object]] = answer.body["entries"]
    return entries


async def test_filters_by_outcome_and_time(admin: Admin) -> None:
    assert len(await journal(admin, "")) == 3
    (unknown,) = await journal(admin, "outcome=business-error")
    assert unknown["code"] == "DataNotFound"
    assert len(await journal(admin, "outcome=ok&service=etkdepot&operation=GetEtk")) == 2
    # since is inclusive, until exclusive; naive values are Brussels time.
    assert len(await journal(admin, "since=2025-11-01T10:00:00&until=2025-11-03T10:00:00")) == 2
    assert len(await journal(admin, "since=2025-11-02")) == 1
    assert len(await journal(admin, "until=2025-11-01T09:00:00.5Z")) == 2
    assert len(await journal(admin, "until=2025-11-01T09:00:00Z")) == 0


async def test_paging_and_bodies(admin: Admin) -> None:
    first, second, _third = await journal(admin, "")
    assert [e["id"] for e in await journal(admin, "limit=1&offset=1")] == [second["id"]]
    assert first["request"] and first["response"]
    (bare,) = await journal(admin, "limit=1&bodies=false")
    assert bare["request"] == "" and bare["response"] == ""
    assert len(await journal(admin, "limit=99999999999999999999999")) == 3


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("outcome=error", "outcome must be one of ok, business-error, fault"),
        ("since=last-week", "since must be an ISO 8601 date-time"),
        ("until=2025-11-31", "until must be an ISO 8601 date-time"),
        ("since=20251101", "since must be an ISO 8601 date-time"),
        ("limit=-1", "limit must be a non-negative integer"),
        ("limit=%C2%B2", "limit must be a non-negative integer"),
        ("offset=1.5", "offset must be a non-negative integer"),
        ("bodies=no", "bodies must be true or false"),
        ("patient_ssin=93062644690", "unknown parameter(s) patient_ssin"),
    ],
)
async def test_bad_filters_are_refused(admin: Admin, query: str, message: str) -> None:
    answer = await admin.call("GET", f"/__admin/journal?{query}")
    assert answer.status == 400
    assert message in answer.body["error"]


async def test_population_pages_and_refuses_bad_values(admin: Admin) -> None:
    answer = await admin.call("GET", "/__admin/population?limit=3&offset=2")
    assert answer.status == 200
    assert [p["ssin"] for p in answer.body["patients"]] == [
        p.ssin for p in admin.sim.population.patients[2:5]
    ]
    assert answer.body["total_patients"] == len(admin.sim.population.patients)
    for query, message in (("limit=x", "limit must be"), ("page=2", "unknown parameter(s) page")):
        refused = await admin.call("GET", f"/__admin/population?{query}")
        assert refused.status == 400
        assert message in refused.body["error"]
