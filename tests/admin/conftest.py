"""A real simulator for the admin tests, and small helpers to call it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from simulator.codecs import etkdepot
from simulator.runtime import Simulator
from simulator.soap.envelope import new_envelope, serialize
from tests.support.server import ServerThread, start_server


@dataclass
class Answer:
    status: int
    headers: Any
    body: Any  # parsed JSON, or text when the answer is not JSON


@dataclass
class Admin:
    server: ServerThread

    @property
    def sim(self) -> Simulator:
        assert self.server.sim is not None
        return self.server.sim

    async def call(self, method: str, path: str, **options: Any) -> Answer:
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.server.base_url + path, **options) as response,
        ):
            if response.content_type == "application/json":
                body: Any = await response.json()
            else:
                body = await response.text()
            return Answer(response.status, response.headers, body)

    async def etk(self, identifier_type: str = "CBE", value: str = "0820563481") -> int:
        """One real SOAP call (the ETK depot needs no token); its HTTP status."""
        request = etkdepot.build_request(identifier_type, value, None)
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                self.server.base_url + "/EtkDepot/v1",
                data=serialize(new_envelope(request)),
                headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
            ) as response,
        ):
            await response.read()
            return response.status


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Admin]:
    server = start_server(tmp_path_factory.mktemp("admin"), patients=200, providers=40)
    yield Admin(server)
    server.stop()
