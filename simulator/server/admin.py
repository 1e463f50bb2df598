"""Admin API under /__admin/: health and the journal (JSON)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web

from simulator.runtime import Simulator
from simulator.store.base import JournalQuery

MAX_PAGE = 1000


def register(app: web.Application, key: web.AppKey[Simulator]) -> None:
    async def health(request: web.Request) -> web.Response:
        from simulator.server.app import health as health_of

        return web.json_response(health_of(request.app[key]))

    async def journal(request: web.Request) -> web.Response:
        try:
            query = _journal_query(request.query)
        except ValueError as error:
            return web.json_response({"error": str(error)}, status=400)
        entries = request.app[key].store.journal(query)
        return web.json_response({"count": len(entries), "entries": [asdict(e) for e in entries]})

    app.router.add_get("/__admin/health", health)
    app.router.add_get("/__admin/journal", journal)


def _journal_query(params: Any) -> JournalQuery:
    def integer(name: str, default: int, maximum: int) -> int:
        raw = params.get(name)
        if raw is None:
            return default
        if not raw.isdigit():
            raise ValueError(f"{name} must be a non-negative integer, got {raw!r}")
        return min(int(raw), maximum)

    return JournalQuery(
        service=params.get("service"),
        operation=params.get("operation"),
        outcome=params.get("outcome"),
        provider_nihii=params.get("provider"),
        patient_ssin=params.get("patient"),
        since=params.get("since"),
        until=params.get("until"),
        limit=integer("limit", 100, MAX_PAGE),
        offset=integer("offset", 0, 10**9),
        include_bodies=params.get("bodies", "true").lower() != "false",
    )
