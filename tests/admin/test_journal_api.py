"""The journal API of the QA workbench: newest first with a total and page links, one entry,
its decoded view, the live stream, the journal-only reset, and the page's token cookie."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from simulator.server import auth
from tests.admin.conftest import Admin
from tests.support.server import ServerThread, start_server


@pytest.fixture(autouse=True)
async def four_calls(admin: Admin) -> None:
    await admin.call("POST", "/__admin/reset", json={"clock": True})
    for _ in range(3):
        assert await admin.etk() == 200
    assert await admin.etk("SSIN", "93062644690") == 200  # DataNotFound


async def page(admin: Admin, query: str) -> dict[str, object]:
    answer = await admin.call("GET", f"/__admin/journal?{query}")
    assert answer.status == 200, answer.body
    body: dict[str, object] = answer.body
    return body


async def test_newest_first_with_total_and_links(admin: Admin) -> None:
    first = await page(admin, "order=newest&limit=3&bodies=false")
    ids = [e["id"] for e in first["entries"]]  # type: ignore[union-attr]
    assert ids == sorted(ids, reverse=True) and len(ids) == 3
    assert first["total"] == 4 and first["prev"] is None
    assert first["next"] == "/__admin/journal?order=newest&limit=3&bodies=false&offset=3"
    second = await page(admin, str(first["next"]).split("?", 1)[1])
    assert [e["id"] for e in second["entries"]] == [min(ids) - 1]  # type: ignore[union-attr]
    assert second["next"] is None and second["prev"] is not None
    oldest = await page(admin, "limit=1")
    assert oldest["entries"][0]["id"] == min(ids) - 1  # type: ignore[index]


async def test_filters_by_code_and_reference(admin: Admin) -> None:
    (refused,) = (await page(admin, "code=DataNotFound"))["entries"]  # type: ignore[misc]
    assert refused["outcome"] == "business-error"
    assert (await page(admin, "code=nothing"))["total"] == 0
    assert (await page(admin, "reference=no-such-reference"))["total"] == 0


async def test_one_entry_and_its_decoded_view(admin: Admin) -> None:
    newest = (await page(admin, "order=newest&limit=1"))["entries"][0]  # type: ignore[index]
    one = await admin.call("GET", f"/__admin/journal/{newest['id']}")
    assert one.status == 200 and one.body == newest
    decoded = await admin.call("GET", f"/__admin/journal/{newest['id']}/decoded")
    assert decoded.status == 200
    assert decoded.body["summary"]["code"] == "DataNotFound"
    assert decoded.body["response_xml"].startswith("<") and "\n  <" in decoded.body["response_xml"]
    curl = decoded.body["curl"]
    assert curl.startswith("curl -sS -X POST http://127.0.0.1:") and "/EtkDepot/v1" in curl
    assert [s["name"] for s in decoded.body["stages"]][:3] == ["parse", "envelope", "dispatch"]
    for bad, status in (("999999", 404), ("abc", 400), ("1" * 40, 400)):
        answer = await admin.call("GET", f"/__admin/journal/{bad}")
        assert answer.status == status, answer.body


async def test_forgetting_the_journal_keeps_the_rest(admin: Admin) -> None:
    admin.sim.records.put("probe", "kept", {"v": 1})
    answer = await admin.call("DELETE", "/__admin/journal")
    assert (answer.status, answer.body) == (200, {"reset": ["journal"]})
    assert (await page(admin, ""))["total"] == 0
    assert admin.sim.records.get("probe", "kept") == {"v": 1}


async def test_the_stream_sends_each_new_entry(admin: Admin) -> None:
    url = admin.server.base_url + "/__admin/journal/stream?seconds=20&service=etkdepot"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert (await response.content.readline()).startswith(b"retry:")
        await response.content.readline()
        calling = asyncio.create_task(admin.etk())
        lines = [await asyncio.wait_for(response.content.readline(), 10) for _ in range(3)]
        await calling
    assert lines[0].startswith(b"id: ") and lines[1] == b"event: entry\n"
    entry = json.loads(lines[2].removeprefix(b"data: "))
    assert entry["service"] == "etkdepot" and "request" not in entry
    assert int(lines[0][4:]) == entry["id"]


async def test_get_slash_leads_to_the_page(admin: Admin) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(admin.server.base_url + "/", allow_redirects=False) as response,
    ):
        assert (response.status, response.headers["Location"]) == (302, "/__admin/ui")
    page_answer = await admin.call("GET", "/__admin/ui")
    assert page_answer.status == 200 and "<title>mycarenet-sim QA workbench" in page_answer.body
    assert "script-src 'self'" in page_answer.headers["Content-Security-Policy"]
    for name in ("app.js", "app.css", "journal.js"):
        assert (await admin.call("GET", f"/__admin/ui/{name}")).status == 200
    for name in ("..%2Fadmin.py", ".hidden.js", "admin.py", "missing.js"):
        assert (await admin.call("GET", f"/__admin/ui/{name}")).status == 404


TOKEN = "page-token"


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    server = start_server(tmp_path_factory.mktemp("exposed"), patients=60, providers=20)
    assert server.sim is not None
    server.sim.settings = replace(server.sim.settings, host="0.0.0.0", admin_token=TOKEN)
    yield server
    server.stop()


async def test_the_page_takes_the_token_once_into_a_strict_cookie(exposed: ServerThread) -> None:
    base = exposed.base_url
    jar = aiohttp.CookieJar(unsafe=True)  # 127.0.0.1 is an IP address
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        async with session.get(base + "/__admin/ui") as response:
            assert response.status == 401 and "?token=" in await response.text()
        async with session.get(base + "/__admin/ui?token=wrong", allow_redirects=False) as r:
            assert r.status == 401
        async with session.get(base + "/__admin/journal") as response:
            assert response.status == 401
        async with session.get(f"{base}/__admin/ui?token={TOKEN}", allow_redirects=False) as r:
            assert (r.status, r.headers["Location"]) == (303, "/__admin/ui")
            cookie = r.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
        async with session.get(base + "/__admin/ui") as response:
            assert response.status == 200
        async with session.get(base + "/__admin/journal") as response:
            assert response.status == 200
        # The cookie does not make another web page's call legitimate.
        async with session.post(
            base + "/__admin/reset", json={}, headers={"Origin": "https://evil.example"}
        ) as response:
            assert response.status == 403


def test_the_cookie_is_derived_from_the_token() -> None:
    assert auth.cookie_value(TOKEN) != TOKEN
    assert auth.cookie_value(TOKEN) == auth.cookie_value(TOKEN) != auth.cookie_value("other")


async def test_a_sealed_memberdata_answer_is_journaled_in_clear(
    admin: Admin, tmp_path: Path
) -> None:
    from simulator.testing.handle import SimulatorHandle

    handle = SimulatorHandle(admin.server.base_url, tmp_path)
    loop = asyncio.get_running_loop()
    keystore = await loop.run_in_executor(None, handle.keystore)
    patient = next(p for p in admin.sim.population.patients if p.situation == "regular")
    today = admin.sim.clock.today()
    async with handle.client(keystore) as client:
        await client.member_data(patient.ssin, today, today + timedelta(days=1))
    entries = (await page(admin, "service=memberdata&order=newest&limit=1"))["entries"]
    (entry,) = entries  # type: ignore[misc]
    assert "encryptedForKnownRecipient" in entry["response"]  # sealed on the wire
    assert "StatusCode" in entry["response_content"]
    assert patient.ssin in entry["response_content"]
    assert patient.ssin not in entry["response"]
    assert "AttributeQuery" in entry["request_content"]
    decoded = await admin.call("GET", f"/__admin/journal/{entry['id']}/decoded")
    assert "urn:oasis:names:tc:SAML:2.0:status:Success" in decoded.body["response_content"]["codes"]
