"""The project's client (`simulator.client`) driven over locust's HTTP session.

`LocustConnector` is the `ConnectorClient` with one change: `send_bytes` posts through the
user's locust session, so every exchange is timed and counted by locust under the name the
simulator journals it with ("<service> <operation>"). Its coroutines then never wait on
anything asynchronous, so `run_sync` runs them to the end in one step, without an event loop
(locust users are gevent greenlets, where asyncio loops do not belong).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from simulator.client.connector import ETK_PATH, STS_PATH, ConnectorClient

if TYPE_CHECKING:  # importing locust monkey-patches the process (gevent): types only here
    from locust.clients import HttpSession

T = TypeVar("T")
# Journal names of the calls the client makes on its own (token, ETKs).
IMPLICIT = {STS_PATH: "sts RequestSecurityToken", ETK_PATH: "etkdepot GetEtk"}


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """The result of a coroutine that never suspends (a `LocustConnector` call)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise RuntimeError("the call waited on asyncio: it needs a LocustConnector transport")


class LocustConnector(ConnectorClient):
    def __init__(
        self,
        http: HttpSession,
        keystore: Path,
        password: str,
        *,
        ca_cert: Path,
        now: Callable[[], datetime],
    ) -> None:
        super().__init__(http.base_url, keystore, password, ca_cert=ca_cert, now=now)
        self.http = http
        self.operation = "unnamed"  # the journal name of the next explicit call

    def named(self, operation: str) -> LocustConnector:
        """This client, its next calls counted as `operation` ("etar TarificationConsultation")."""
        self.operation = operation
        return self

    async def send_bytes(
        self, path: str, soap_action: str | None, body: bytes
    ) -> tuple[int, bytes]:
        headers = {"Content-Type": "text/xml; charset=utf-8"}
        if soap_action is not None:
            headers |= self.dialect.soap_action_header(path, soap_action)
        name = IMPLICIT.get(path, self.operation)
        # Locust counts HTTP 4xx/5xx (SOAP faults) as failures; 200 with a business error is
        # an answer like any other.
        response = self.http.post(path, data=body, headers=headers, name=name)
        return response.status_code, response.content or b""
