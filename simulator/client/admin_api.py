"""The admin API from a client's side: the business clock, keystores, the journal. The load
suites and the pytest plugin's handle both call the simulator through it.

Plain `urllib` (no locust import): the CLI and the tests use it too. Inside locust, gevent has
patched the sockets, so these calls do not block the other users. Admin calls are not load:
they are not counted in locust's statistics.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

TOKEN_ENVIRONMENT = "MYCARENET_ADMIN_TOKEN"  # noqa: S105 (a variable name, not a token)
JOURNAL_PAGE = 1000


class AdminApiError(RuntimeError):
    """The admin API refused a call; the message is the server's own."""

    def __init__(self, status: int, method: str, path: str, message: str) -> None:
        super().__init__(f"{method} {path}: HTTP {status}: {message}")
        self.status = status


@dataclass(frozen=True)
class BusinessClock:
    now: datetime  # UTC
    today: date  # the simulated date in Brussels: what every rule reads
    frozen: bool


class AdminApi:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = 60.0) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"the simulator's URL must be http(s)://..., got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.token = token if token is not None else os.environ.get(TOKEN_ENVIRONMENT)
        self.timeout = timeout

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """The JSON answer of `method path`; AdminApiError for any status above 299."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(  # noqa: S310 (http/https only, checked above)
            self.base_url + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise AdminApiError(error.code, method, path, _message(error.read())) from None

    def clock(self) -> BusinessClock:
        return _clock(self.call("GET", "/__admin/clock"))

    def set_clock(self, at: str) -> BusinessClock:
        """Put the clock at `at` (ISO 8601; naive = Brussels time), keeping it running or not."""
        return _clock(self.call("PUT", "/__admin/clock", {"at": at}))

    def keystore(self, *, kind: str, index: int, password: str, key_type: str) -> dict[str, Any]:
        body = {"kind": kind, "index": index, "password": password, "key_type": key_type}
        answer: dict[str, Any] = self.call("POST", "/__admin/keystores", body)
        return answer

    def journal(self, **filters: str) -> list[dict[str, Any]]:
        """Every journal entry matching `filters` (without bodies unless asked), page by page."""
        entries: list[dict[str, Any]] = []
        query = {"bodies": "false", **filters, "limit": str(JOURNAL_PAGE)}
        while True:
            query["offset"] = str(len(entries))
            page = self.call("GET", "/__admin/journal?" + urllib.parse.urlencode(query))
            entries += page["entries"]
            if len(page["entries"]) < JOURNAL_PAGE:
                return entries


def _clock(answer: dict[str, Any]) -> BusinessClock:
    return BusinessClock(
        now=datetime.fromisoformat(answer["now"]),
        today=date.fromisoformat(answer["today"]),
        frozen=bool(answer["frozen"]),
    )


def _message(raw: bytes) -> str:
    try:
        return str(json.loads(raw)["error"])
    except (ValueError, KeyError, TypeError):
        return raw.decode("utf-8", "replace")[:500]
