"""A journal query runs in a thread: the event loop answers other calls meanwhile."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.admin.conftest import Admin


async def test_a_slow_journal_query_does_not_freeze_the_server(
    admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = admin.sim.store
    real = store.journal

    def slow_journal(query: Any) -> Any:
        time.sleep(1.5)  # a scan of a large journal on disk
        return real(query)

    monkeypatch.setattr(store, "journal", slow_journal)
    query = asyncio.ensure_future(admin.call("GET", "/__admin/journal?limit=1"))
    await asyncio.sleep(0.2)  # the query is running
    started = time.perf_counter()
    health = await admin.call("GET", "/__admin/health")
    waited = time.perf_counter() - started
    assert health.status == 200
    assert waited < 0.7, f"the health check waited {waited:.2f} s for the journal query"
    answer = await query
    assert answer.status == 200 and "entries" in answer.body
