"""Group commit: requests in flight share a transaction, each returns once its writes are
committed, and a failed transaction fails every request in it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from simulator.store.group_commit import MAX_GROUP, GroupCommit


class SlowDatabase:
    """Records the transactions it was given; the first one takes a while, so the requests
    arriving meanwhile queue up behind it."""

    def __init__(self) -> None:
        self.transactions: list[list[int]] = []
        self.committed: set[int] = set()
        self.fail_next = False
        self._first = threading.Event()

    def write(self, items: Sequence[int]) -> None:
        if not self.transactions:
            self._first.wait(0.2)
        self.transactions.append(list(items))
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("connection lost")
        self.committed.update(items)


def test_requests_in_flight_share_transactions_and_return_after_their_commit() -> None:
    database = SlowDatabase()
    group: GroupCommit[int] = GroupCommit(database.write, name="test-group")

    async def request(n: int) -> None:
        await group.write([n])
        assert n in database.committed  # never before its own commit

    async def main() -> None:
        await asyncio.gather(*(request(n) for n in range(50)))

    asyncio.run(main())
    group.close()
    assert sorted(i for t in database.transactions for i in t) == list(range(50))
    assert len(database.transactions) < 50  # grouped: the first one held up the others
    assert max(len(t) for t in database.transactions) <= MAX_GROUP


def test_a_failed_transaction_fails_each_of_its_requests_and_not_the_next() -> None:
    database = SlowDatabase()
    database.fail_next = True
    group: GroupCommit[int] = GroupCommit(database.write, name="test-group")

    async def main() -> list[BaseException | None]:
        results = await asyncio.gather(
            *(group.write([n]) for n in range(5)), return_exceptions=True
        )
        after = await asyncio.gather(group.write([99]), return_exceptions=True)
        return [*results, *after]

    results = asyncio.run(main())
    group.close()
    failed = [r for r in results if isinstance(r, RuntimeError)]
    assert failed and all(str(r) == "connection lost" for r in failed)
    assert results[-1] is None and 99 in database.committed


def test_nothing_to_write_returns_at_once_and_a_closed_group_refuses() -> None:
    database = SlowDatabase()
    group: GroupCommit[int] = GroupCommit(database.write, name="test-group")
    asyncio.run(group.write([]))
    assert database.transactions == []
    group.close()
    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(group.write([1]))
