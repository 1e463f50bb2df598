"""Admin routes of the journal: pages of entries (filtered, either order, with the total and
links to the next and previous pages), one entry, one entry decoded and unsealed, a live
stream of new entries (server-sent events), and forgetting the journal alone.

Store queries may scan a large journal and decompress bodies: they run in a thread, so that
the event loop goes on answering the SOAP endpoints meanwhile.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from simulator.runtime import Simulator
from simulator.server import journal_stream
from simulator.server.admin_http import AdminError, Route
from simulator.server.admin_params import choice, flag, instant, integer, only
from simulator.server.journal_views import decoded_view
from simulator.store.base import JournalEntry, JournalQuery, Store

MAX_PAGE = 1000
MAX_OFFSET = 10**9
MAX_ID = 2**63 - 1
MAX_STREAM_S = 3600
OUTCOMES = ("ok", "business-error", "fault")
ORDERS = ("oldest", "newest")
FILTERS = (
    "service",
    "operation",
    "outcome",
    "code",
    "provider",
    "patient",
    "reference",
    "since",
    "until",
)
JOURNAL_PARAMETERS = (*FILTERS, "order", "limit", "offset", "bodies")
STREAM_PARAMETERS = (*FILTERS, "after", "seconds")


def journal_query(
    params: Mapping[str, str], allowed: tuple[str, ...] = JOURNAL_PARAMETERS
) -> JournalQuery:
    """The journal filters of a query string; AdminError says which one is wrong and why."""
    only(params, allowed)
    outcome = params.get("outcome")
    if outcome is not None and outcome not in OUTCOMES:
        raise AdminError(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
    return JournalQuery(
        service=params.get("service"),
        operation=params.get("operation"),
        outcome=outcome,
        code=params.get("code"),
        provider_nihii=params.get("provider"),
        patient_ssin=params.get("patient"),
        reference=params.get("reference") or None,
        since=instant(params, "since"),
        until=instant(params, "until"),
        limit=integer(params, "limit", 100, MAX_PAGE),
        offset=integer(params, "offset", 0, MAX_OFFSET),
        include_bodies=flag(params, "bodies", default=True),
        newest_first=choice(params, "order", ORDERS) == "newest",
    )


def page_document(store: Store, query: JournalQuery, path: str, params: Mapping[str, str]) -> bytes:
    """A page of entries with `total` (all that match) and `next`/`prev` links (or null)."""
    entries = store.journal(query)
    total = store.journal_count(query)
    following = query.offset + len(entries)
    document = {
        "count": len(entries),
        "total": total,
        "offset": query.offset,
        "limit": query.limit,
        "order": "newest" if query.newest_first else "oldest",
        "next": _link(path, params, following) if following < total and entries else None,
        "prev": _link(path, params, max(0, query.offset - query.limit))
        if query.offset > 0
        else None,
        "entries": [asdict(e) for e in entries],
    }
    return json.dumps(document).encode("utf-8")


def _link(path: str, params: Mapping[str, str], offset: int) -> str:
    return f"{path}?{urlencode({**params, 'offset': str(offset)})}"


def entry_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise AdminError(f"a journal id is a positive integer, got {raw!r}")
    return int(raw)


async def find_entry(store: Store, number: int) -> JournalEntry:
    loop = asyncio.get_running_loop()
    entry = await loop.run_in_executor(None, store.journal_entry, number)
    if entry is None:
        raise AdminError(
            f"no journal entry {number}: it was never written, or the journal was reset or "
            "trimmed by its retention policy",
            status=404,
        )
    return entry


def base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def register(app: web.Application, key: web.AppKey[Simulator], route: Route) -> None:
    journal_stream.install(app)

    async def journal(request: web.Request) -> web.Response:
        query = journal_query(request.query)
        store = request.app[key].store
        loop = asyncio.get_running_loop()
        document = await loop.run_in_executor(
            None, page_document, store, query, request.path, dict(request.query)
        )
        return web.Response(body=document, content_type="application/json")

    async def one_entry(request: web.Request) -> web.Response:
        only(request.query, ())
        entry = await find_entry(request.app[key].store, entry_id(request))
        return web.json_response(asdict(entry))

    async def decoded(request: web.Request) -> web.Response:
        only(request.query, ())
        sim = request.app[key]
        entry = await find_entry(sim.store, entry_id(request))
        loop = asyncio.get_running_loop()
        view = await loop.run_in_executor(None, _decoded, sim, entry, base_url(request))
        return web.json_response(view)

    async def forget(request: web.Request) -> web.Response:
        only(request.query, ())
        request.app[key].store.clear()
        return web.json_response({"reset": ["journal"]})

    async def live(request: web.Request) -> web.StreamResponse:
        query = journal_query(request.query, STREAM_PARAMETERS)
        store = request.app[key].store
        after = _last_event_id(request)
        if after is None:
            after = await journal_stream.latest_id(store)
        seconds = integer(request.query, "seconds", MAX_STREAM_S, MAX_STREAM_S)
        return await journal_stream.stream(request, store, query, after, seconds)

    route("GET", "/__admin/journal", journal)
    route("DELETE", "/__admin/journal", forget)
    route("GET", "/__admin/journal/stream", live)  # before {id}: "stream" is no id
    route("GET", "/__admin/journal/{id}", one_entry)
    route("GET", "/__admin/journal/{id}/decoded", decoded)


def _last_event_id(request: web.Request) -> int | None:
    """Where a reconnecting EventSource left off (Last-Event-ID), or ?after=."""
    raw = request.headers.get("Last-Event-ID") or request.query.get("after")
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise AdminError(f"after (or Last-Event-ID) must be a journal id, got {raw!r}")
    return min(int(raw), MAX_ID)


def _decoded(sim: Simulator, entry: JournalEntry, url: str) -> dict[str, Any]:
    # The world of the exchange's business day, built only when an eFact file is checked.
    return decoded_view(entry, url, sim.population_on)
