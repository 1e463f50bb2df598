"""A web page the user visits cannot drive the admin API of a loopback-bound simulator.

Neither by DNS rebinding (its own name resolving to 127.0.0.1: the Host names it), nor by a
cross-site form or fetch (a foreign Origin, or a body type browsers send without asking).
Refusals are JSON (403, 415) and change nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from simulator.config import Settings
from simulator.runtime import Simulator
from simulator.server import auth
from simulator.server.app import create_app

FROZEN_AT = "2025-06-01T10:00:00+00:00"


@pytest.fixture(scope="module")
def base_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("origin"), patients=50, providers=20)
    sim = Simulator.create(settings)
    yield sim
    sim.close()


async def _client(sim: Simulator, **settings: Any) -> TestClient:
    sim.settings = replace(sim.settings, **settings)
    app = create_app(sim)
    app.on_cleanup.clear()  # the module's simulator outlives each client
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


@pytest.fixture
async def local(base_sim: Simulator) -> AsyncIterator[TestClient]:
    client = await _client(base_sim, host="127.0.0.1", admin_token=None)
    # A known clock, so that a refused reset (which would put it back) shows.
    response = await client.put(
        "/__admin/clock", json={"at": FROZEN_AT, "frozen": True}, headers=_own(client)
    )
    assert response.status == 200
    yield client
    await client.close()


def _own(client: TestClient, name: str = "127.0.0.1") -> dict[str, str]:
    return {"Host": f"{name}:{client.port}"}


async def _clock_unchanged(client: TestClient) -> None:
    body = await (await client.get("/__admin/clock", headers=_own(client))).json()
    assert body["now"] == FROZEN_AT and body["frozen"] is True


@pytest.mark.parametrize(
    "host", ["evil.example", "127.0.0.1.nip.io", "attacker.test:80", "", "x:y"]
)
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/__admin/journal"), ("GET", "/__admin/clock"), ("POST", "/__admin/reset")],
)
async def test_a_host_that_is_not_this_server_is_refused(
    local: TestClient, host: str, method: str, path: str
) -> None:
    response = await local.request(method, path, headers={"Host": host})
    assert response.status == 403
    body = await response.json()
    assert "does not name this server" in body["error"]
    await _clock_unchanged(local)


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "LocalHost", "[::1]", "127.0.0.1."])
async def test_loopback_names_are_this_server(local: TestClient, name: str) -> None:
    response = await local.get("/__admin/clock", headers={"Host": f"{name}:{local.port}"})
    assert response.status == 200


async def test_the_configured_host_is_this_server(base_sim: Simulator) -> None:
    client = await _client(base_sim, host="127.0.0.2", admin_token=None)
    try:
        for host in ("127.0.0.2", "localhost"):
            response = await client.get("/__admin/clock", headers={"Host": f"{host}:8080"})
            assert response.status == 200, host
    finally:
        await client.close()


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "null",  # sandboxed frames, file: pages
        "http://localhost:1",  # another local web server is another origin
        "https://127.0.0.1:{port}",  # another scheme
        "garbage",
    ],
)
async def test_a_foreign_origin_is_refused(local: TestClient, origin: str) -> None:
    headers = {**_own(local), "Origin": origin.format(port=local.port)}
    response = await local.post(
        "/__admin/reset",
        data=b'{"clock": true}',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status == 403
    assert "Origin" in (await response.json())["error"]
    await _clock_unchanged(local)


async def test_the_servers_own_origin_is_accepted(local: TestClient) -> None:
    for name in ("127.0.0.1", "localhost"):
        headers = {**_own(local, name), "Origin": f"http://{name}:{local.port}"}
        response = await local.get("/__admin/clock", headers=headers)
        assert response.status == 200, name


@pytest.mark.parametrize(
    ("method", "path", "content_type", "body"),
    [
        ("POST", "/__admin/reset", "text/plain", b'{"clock": true}'),
        ("POST", "/__admin/reset", "text/plain;charset=UTF-8", b""),
        ("POST", "/__admin/reset", "application/x-www-form-urlencoded", b"clock=true"),
        ("POST", "/__admin/reset", "multipart/form-data; boundary=x", b"--x--\r\n"),
        ("PUT", "/__admin/clock", "text/plain", b'{"at": "2030-01-01T00:00:00Z"}'),
        ("POST", "/__admin/clock/advance", "text/plain", b'{"days": 1}'),
        ("POST", "/__admin/scenario/restart", "text/plain", b""),
        ("PUT", "/__admin/scenario", "text/plain", b"name: x\nrules: []\n"),
        ("PUT", "/__admin/scenario", "application/x-www-form-urlencoded", b"name=x"),
    ],
)
async def test_simple_cross_site_bodies_are_refused_with_415(
    local: TestClient, method: str, path: str, content_type: str, body: bytes
) -> None:
    before = (await (await local.get("/__admin/scenarios", headers=_own(local))).json())["active"]
    response = await local.request(
        method, path, data=body, headers={**_own(local), "Content-Type": content_type}
    )
    assert response.status == 415
    assert "application/json" in (await response.json())["error"]
    await _clock_unchanged(local)
    after = (await (await local.get("/__admin/scenarios", headers=_own(local))).json())["active"]
    assert after == before


@pytest.mark.parametrize("content_type", [None, "application/octet-stream", "text/xml"])
async def test_a_json_body_must_say_it_is_json(local: TestClient, content_type: str | None) -> None:
    headers = _own(local)
    if content_type is not None:
        headers["Content-Type"] = content_type
    else:
        headers["Content-Type"] = ""  # aiohttp would add application/octet-stream
    response = await local.put("/__admin/clock", data=b'{"frozen": false}', headers=headers)
    assert response.status == 415
    assert "application/json" in (await response.json())["error"]
    await _clock_unchanged(local)


async def test_json_bodies_and_bodiless_calls_still_work(local: TestClient) -> None:
    # What curl, scripts and the README do: JSON with its type, or no body at all.
    response = await local.post("/__admin/scenario/restart", headers=_own(local))
    assert response.status == 200
    response = await local.post("/__admin/clock/advance", json={"days": 1}, headers=_own(local))
    assert response.status == 200
    response = await local.post("/__admin/reset", headers=_own(local))
    assert response.status == 200
    assert "clock" not in (await response.json())["reset"]


async def test_health_and_metrics_stay_open(local: TestClient) -> None:
    for path in ("/__admin/health", "/metrics"):
        assert (await local.get(path, headers={"Host": "evil.example"})).status == 200


async def test_with_a_token_the_host_is_not_checked(base_sim: Simulator) -> None:
    # Bound beyond loopback the token is the credential: names and proxies vary freely.
    client = await _client(base_sim, host="0.0.0.0", admin_token="tok")
    try:
        headers = {"Host": "sim.example:8443", "Authorization": "Bearer tok"}
        assert (await client.get("/__admin/clock", headers=headers)).status == 200
        refused = await client.post(
            "/__admin/reset", data=b"{}", headers={**headers, "Content-Type": "text/plain"}
        )
        assert refused.status == 415
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("localhost:8080", ("localhost", 8080)),
        ("LOCALHOST", ("localhost", None)),
        ("[::1]:80", ("::1", 80)),
        ("127.0.0.1.", ("127.0.0.1", None)),
        ("[::1", (None, None)),
        ("host:port", (None, None)),
        ("a:1:2", (None, None)),
        ("", (None, None)),
    ],
)
def test_split_host(header: str, expected: tuple[str | None, int | None]) -> None:
    assert auth.split_host(header) == expected
