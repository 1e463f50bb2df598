"""Scenarios through the admin API: list, replace, restart; bad files leave things as they were."""

from __future__ import annotations

import pytest

from tests.admin.conftest import Admin

# The second ETK call gets an ESB fault: after two calls, matched 2, fired 1.
SECOND_ETK_FAILS = """\
name: second-etk-fails
description: The ETK depot fails its second call.
rules:
  - id: etk-fault
    description: ESB down once
    match: {service: etkdepot, nth: 2}
    action: {type: soap_fault, code: SOA-02002}
  - id: never
    match: {service: eattest}
    action: {type: delay, seconds: 1}
"""
YAML = {"Content-Type": "application/yaml"}


@pytest.fixture(autouse=True)
async def default_scenario(admin: Admin) -> None:
    await admin.call("POST", "/__admin/reset", json={"clock": True})
    await admin.call("PUT", "/__admin/scenario", json={"shipped": "default"})


async def load_and_play(admin: Admin) -> dict[str, object]:
    answer = await admin.call("PUT", "/__admin/scenario", data=SECOND_ETK_FAILS, headers=YAML)
    assert answer.status == 200
    assert [await admin.etk(), await admin.etk()] == [200, 500]
    listed = await admin.call("GET", "/__admin/scenarios")
    active: dict[str, object] = listed.body["active"]
    return active


async def test_list_shows_the_active_scenario_and_the_shipped_ones(admin: Admin) -> None:
    answer = await admin.call("GET", "/__admin/scenarios")
    assert answer.status == 200
    assert answer.body["active"] == {
        "name": "default",
        "description": answer.body["active"]["description"],
        "rules": [],
    }
    shipped = {s["name"]: s for s in answer.body["shipped"]}
    assert {"default", "chaos"} <= set(shipped)
    assert shipped["chaos"]["rules"] == 13
    assert shipped["default"]["rules"] == 0


async def test_an_uploaded_file_runs_and_counts_per_rule(admin: Admin) -> None:
    active = await load_and_play(admin)
    assert active == {
        "name": "second-etk-fails",
        "description": "The ETK depot fails its second call.",
        "rules": [
            {
                "id": "etk-fault",
                "description": "ESB down once",
                "action": "soap_fault",
                "matched": 2,
                "fired": 1,
            },
            {"id": "never", "description": "", "action": "delay", "matched": 0, "fired": 0},
        ],
    }


async def test_a_bad_file_is_refused_by_line_and_the_running_one_is_intact(admin: Admin) -> None:
    before = await load_and_play(admin)
    engine = admin.sim.scenarios
    bad = SECOND_ETK_FAILS.replace("nth: 2", "nth: zero").replace("type: delay", "type: dlay")
    answer = await admin.call("PUT", "/__admin/scenario", data=bad, headers=YAML)
    assert answer.status == 400
    assert "refused (2 problems)" in answer.body["error"]
    assert "unchanged" in answer.body["error"]
    lines = [p["line"] for p in answer.body["problems"]]
    assert lines == [6, 10]
    assert "nth" in answer.body["problems"][0]["message"]
    assert "'dlay'" in answer.body["problems"][1]["message"]
    # Same engine object, same counters, and it goes on counting from where it was.
    assert admin.sim.scenarios is engine
    assert (await admin.call("GET", "/__admin/scenarios")).body["active"] == before
    assert await admin.etk() == 200
    after = (await admin.call("GET", "/__admin/scenarios")).body["active"]
    assert after["rules"][0]["matched"] == 3


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        ("rules: [", "text/yaml", 400, "not valid YAML"),
        ("", "application/x-yaml", 400, "empty"),
        ("name: x", "text/plain", 415, "cross-site"),
        ("- just\n- a list\n", "application/yaml", 400, "must be a mapping"),
        ('{"shipped": "nope"}', "application/json", 400, "no shipped scenario 'nope'; shipped:"),
        ('{"shipped": 3}', "application/json", 400, '"shipped" must be the name'),
        ('{"name": "x"}', "application/json", 400, "unknown key(s) 'name'"),
        ("name: x", "application/xml", 415, "is not accepted"),
    ],
)
async def test_refusals_say_what_is_wrong(
    admin: Admin, body: str, content_type: str, status: int, message: str
) -> None:
    engine = admin.sim.scenarios
    answer = await admin.call(
        "PUT", "/__admin/scenario", data=body.encode(), headers={"Content-Type": content_type}
    )
    assert answer.status == status
    assert message in answer.body["error"] + str(answer.body.get("problems"))
    assert admin.sim.scenarios is engine


async def test_a_file_that_is_not_utf8_is_refused(admin: Admin) -> None:
    answer = await admin.call(
        "PUT", "/__admin/scenario", data=b"name: \xff\xfe", headers={"Content-Type": "text/yaml"}
    )
    assert answer.status == 400
    assert answer.body["problems"][0]["line"] == 1


async def test_a_file_without_a_name_is_called_uploaded(admin: Admin) -> None:
    answer = await admin.call("PUT", "/__admin/scenario", data="rules: []\n", headers=YAML)
    assert answer.status == 200
    assert answer.body["name"] == "uploaded"


async def test_a_shipped_scenario_by_name(admin: Admin) -> None:
    answer = await admin.call("PUT", "/__admin/scenario", json={"shipped": "chaos"})
    assert answer.status == 200
    assert answer.body["name"] == "chaos"
    assert len(answer.body["rules"]) == 13
    assert admin.sim.scenarios.scenario.name == "chaos"


async def test_restart_zeroes_the_counters(admin: Admin) -> None:
    await load_and_play(admin)
    answer = await admin.call("POST", "/__admin/scenario/restart")
    assert answer.status == 200
    assert [(r["matched"], r["fired"]) for r in answer.body["rules"]] == [(0, 0), (0, 0)]
    # From its start again: the second call after the restart fails again.
    assert [await admin.etk(), await admin.etk()] == [200, 500]


async def test_reset_clears_journal_and_records_and_restarts_the_scenario(admin: Admin) -> None:
    await load_and_play(admin)
    admin.sim.records.put("probe", "k", {"v": 1})
    answer = await admin.call("POST", "/__admin/reset")
    assert answer.status == 200
    assert answer.body == {"reset": ["journal", "records", "scenario"]}
    journal = await admin.call("GET", "/__admin/journal")
    assert (journal.body["count"], journal.body["total"], journal.body["entries"]) == (0, 0, [])
    assert admin.sim.records.get("probe", "k") is None
    active = (await admin.call("GET", "/__admin/scenarios")).body["active"]
    assert active["name"] == "second-etk-fails"
    assert [(r["matched"], r["fired"]) for r in active["rules"]] == [(0, 0), (0, 0)]


@pytest.mark.parametrize(
    ("raw", "message"),
    [(b'{"clock": "yes"}', "clock must be true or false"), (b'{"all": true}', "unknown key")],
)
async def test_bad_reset_bodies_reset_nothing(admin: Admin, raw: bytes, message: str) -> None:
    assert await admin.etk() == 200
    answer = await admin.call(
        "POST", "/__admin/reset", data=raw, headers={"Content-Type": "application/json"}
    )
    assert answer.status == 400
    assert message in answer.body["error"]
    assert (await admin.call("GET", "/__admin/journal")).body["count"] == 1
