"""The journal as server-sent events: every new entry, as it is written, to a browser's
EventSource (`GET /__admin/journal/stream`).

New entries are found by polling the store for ids above the last one sent, not by a hook in
this process: with several workers sharing a store, an exchange answered by another process
must show up too. The query is on the primary key, so a poll costs next to nothing.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, replace
from typing import Any

from aiohttp import web

from simulator.store.base import JournalEntry, JournalQuery, Store

POLL_S = 0.25
HEARTBEAT_S = 15.0
BATCH = 200
CLOSING_KEY = web.AppKey("journal_stream_closing", asyncio.Event)
_LEFT_OUT = ("request", "response", "request_content", "response_content")


def summary(entry: JournalEntry) -> dict[str, Any]:
    """An entry without its bodies: what a journal row and an event carry."""
    values = asdict(entry)
    for name in _LEFT_OUT:
        values.pop(name, None)
    return values


def install(app: web.Application) -> None:
    """Streams end when the server shuts down (a browser tab would otherwise hold it up)."""
    app[CLOSING_KEY] = asyncio.Event()

    async def closing(app: web.Application) -> None:
        app[CLOSING_KEY].set()

    app.on_shutdown.append(closing)


async def latest_id(store: Store) -> int:
    loop = asyncio.get_running_loop()
    newest = await loop.run_in_executor(
        None, store.journal, JournalQuery(limit=1, newest_first=True, include_bodies=False)
    )
    return newest[0].id or 0 if newest else 0


async def stream(
    request: web.Request, store: Store, query: JournalQuery, after: int, seconds: float
) -> web.StreamResponse:
    """Events `entry` (JSON summary, id = journal id) for entries above `after` that match
    `query`'s filters, for `seconds`; a comment line every HEARTBEAT_S keeps proxies open."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # nginx: do not buffer the stream
        }
    )
    await response.prepare(request)
    await response.write(b"retry: 2000\n\n")
    loop = asyncio.get_running_loop()
    closing = request.app.get(CLOSING_KEY)
    deadline = loop.time() + seconds
    quiet_since = loop.time()
    polling = replace(query, limit=BATCH, offset=0, newest_first=False, include_bodies=False)
    try:
        while loop.time() < deadline and not (closing is not None and closing.is_set()):
            found = await loop.run_in_executor(
                None, store.journal, replace(polling, after_id=after)
            )
            for entry in found:
                after = entry.id or after
                data = json.dumps(summary(entry), separators=(",", ":"))
                await response.write(f"id: {after}\nevent: entry\ndata: {data}\n\n".encode())
            if found:
                quiet_since = loop.time()
            elif loop.time() - quiet_since >= HEARTBEAT_S:
                await response.write(b": still here\n\n")
                quiet_since = loop.time()
            if len(found) < BATCH:
                await asyncio.sleep(min(POLL_S, max(0.0, deadline - loop.time())))
        await response.write_eof()
    except ConnectionResetError:
        pass  # the browser went away
    return response
