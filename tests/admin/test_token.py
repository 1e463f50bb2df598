"""The admin token: required when the server is bound beyond loopback, never on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from simulator.config import Settings
from simulator.runtime import Simulator
from simulator.server import auth
from simulator.server.app import create_app

GUARDED = [
    ("GET", "/__admin/journal"),
    ("GET", "/__admin/population"),
    ("GET", "/__admin/openapi.json"),
    ("GET", "/__admin/scenarios"),
    ("PUT", "/__admin/scenario"),
    ("POST", "/__admin/scenario/restart"),
    ("POST", "/__admin/reset"),
    ("GET", "/__admin/clock"),
    ("PUT", "/__admin/clock"),
    ("POST", "/__admin/clock/advance"),
    ("POST", "/__admin/keystores"),
]
OPEN = [("GET", "/__admin/health"), ("GET", "/metrics")]


@pytest.fixture(scope="module")
def base_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("token"), patients=50, providers=20)
    sim = Simulator.create(settings)
    yield sim
    sim.close()


async def client_for(sim: Simulator, **settings: object) -> TestClient:
    sim.settings = replace(sim.settings, **settings)  # type: ignore[arg-type]
    app = create_app(sim)
    app.on_cleanup.clear()  # the module fixture's simulator outlives each client
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def exposed(base_sim: Simulator) -> AsyncIterator[TestClient]:
    client = await client_for(base_sim, host="0.0.0.0", admin_token="s3cret-token")
    yield client
    await client.close()


@pytest.mark.parametrize(("method", "path"), GUARDED)
async def test_every_admin_route_wants_the_token_when_exposed(
    exposed: TestClient, method: str, path: str
) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-token"}):
        response = await exposed.request(method, path, headers=headers)
        assert response.status == 401, headers
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        body = await response.json()
        assert "bearer token" in body["error"]


async def test_the_right_token_opens_the_admin_api(exposed: TestClient) -> None:
    good = {"Authorization": "Bearer s3cret-token"}
    assert (await exposed.get("/__admin/clock", headers=good)).status == 200
    assert (await exposed.get("/__admin/scenarios", headers=good)).status == 200
    lower = {"Authorization": "bearer s3cret-token"}  # the scheme is case-insensitive
    assert (await exposed.get("/__admin/clock", headers=lower)).status == 200


@pytest.mark.parametrize(("method", "path"), OPEN)
async def test_health_and_metrics_stay_open(exposed: TestClient, method: str, path: str) -> None:
    assert (await exposed.request(method, path)).status == 200


async def test_a_token_is_generated_when_none_is_given(base_sim: Simulator) -> None:
    client = await client_for(base_sim, host="0.0.0.0", admin_token=None)
    try:
        token = auth.admin_token(base_sim)
        assert len(token) >= 32 and token == base_sim.generated_admin_token
        assert (await client.get("/__admin/clock")).status == 401
        ok = await client.get("/__admin/clock", headers={"Authorization": f"Bearer {token}"})
        assert ok.status == 200
    finally:
        await client.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
async def test_no_token_on_loopback(base_sim: Simulator, host: str) -> None:
    client = await client_for(base_sim, host=host, admin_token="s3cret-token")
    try:
        for method, path in GUARDED[:4]:
            assert (await client.request(method, path)).status == 200, path
    finally:
        await client.close()


def test_two_simulators_get_different_tokens(base_sim: Simulator, tmp_path: Path) -> None:
    other = Simulator.create(Settings(data_dir=tmp_path, patients=20, providers=10))
    try:
        assert other.generated_admin_token != base_sim.generated_admin_token
    finally:
        other.close()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("example.org", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert auth.is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("Bearer tok", True),
        ("bearer tok", True),
        ("Bearer  tok ", True),
        ("Bearer tok2", False),
        ("Bearer to", False),
        ("Bearer", False),
        ("tok", False),
        ("Token tok", False),
        (None, False),
        ("Bearer tök", False),
    ],
)
def test_presents_token(header: str | None, accepted: bool) -> None:
    assert auth.presents_token(header, "tok") is accepted
