"""The admin API: what a tester reads to pick patients and to see what happened."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.e2e.conftest import Running


async def get(running: Running, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(
        running.server.base_url + path
    ) as response:
        return response.status, await response.json()


async def test_the_population_lists_patients_by_situation(running: Running) -> None:
    status, body = await get(running, "/__admin/population?limit=20")
    assert status == 200
    assert body["total_patients"] == len(running.population.patients)
    listed = {p["ssin"]: p for p in body["patients"]}
    assert len(listed) == 20
    first = running.population.patients[0]
    assert listed[first.ssin]["situation"] == first.situation
    assert listed[first.ssin]["bim"] == first.bim
    # the first patients cycle through every situation
    not_insured = running.population.situation("not-insured")
    assert listed[not_insured.ssin]["insured_today"] is False
    assert {p["kind"] for p in body["providers"]} >= {"GP", "SPECIALIST", "DENTIST"}


async def test_paging_and_bad_parameters(running: Running) -> None:
    _, page = await get(running, "/__admin/population?limit=5&offset=5")
    assert [p["ssin"] for p in page["patients"]] == [
        p.ssin for p in running.population.patients[5:10]
    ]
    status, body = await get(running, "/__admin/population?limit=-1")
    assert status == 400
    assert "limit" in body["error"]


async def test_the_journal_filters_and_can_leave_out_bodies(running: Running) -> None:
    unknown = running.population.unknown_ssin(11)
    async with running.client() as client:
        await client.tarification(unknown, ["101032"], running.sim.clock.today())
    status, body = await get(
        running, f"/__admin/journal?service=etar&patient={unknown}&bodies=false"
    )
    assert status == 200
    (entry,) = body["entries"]
    assert entry["code"] == "120"
    assert entry["request"] == "" and entry["response"] == ""
    status, _ = await get(running, "/__admin/journal?limit=x")
    assert status == 400
