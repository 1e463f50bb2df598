"""Group commit: requests in flight share a transaction, each returns once its writes are
committed, a failed transaction fails every request in it (and not the next ones)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from simulator.store.group_commit import MAX_GROUP, AsyncGroupCommit, LoopPassGroup


class Database:
    """Transactions as they were given; a connection is a number, a round trip a sleep."""

    def __init__(self) -> None:
        self.transactions: list[list[int]] = []
        self.committed: set[int] = set()
        self.fail_next = False
        self.connections = 0
        self.closed: list[int] = []

    async def connect(self) -> int:
        self.connections += 1
        return self.connections

    def write(self, items: Sequence[int]) -> None:
        self.transactions.append(list(items))
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("connection lost")
        self.committed.update(items)

    async def write_over(self, connection: int, items: Sequence[int]) -> None:
        await asyncio.sleep(0.01)  # the round trip: the next requests queue meanwhile
        self.write(items)


def asynchronous(database: Database) -> AsyncGroupCommit[int, int]:
    return AsyncGroupCommit(database.connect, database.write_over, database.closed.append)


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_requests_in_flight_share_transactions_and_return_after_their_commit(kind: str) -> None:
    database = Database()
    group = asynchronous(database) if kind == "postgresql" else LoopPassGroup(database.write)

    async def request(n: int) -> None:
        await asyncio.sleep(0)
        await group.write([n, -n])
        assert n in database.committed and -n in database.committed

    async def main() -> None:
        await asyncio.gather(*(request(n) for n in range(1, 301)))

    asyncio.run(main())
    assert sorted(i for t in database.transactions for i in t) == sorted(
        [*range(1, 301), *range(-300, 0)]
    )
    assert len(database.transactions) < 20  # grouped, not one transaction a request
    if kind == "postgresql":  # bounded transactions (SQLite: one per pass of the loop)
        assert max(len(t) for t in database.transactions) <= 2 * MAX_GROUP


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_a_failed_transaction_fails_its_requests_and_not_the_next(kind: str) -> None:
    database = Database()
    database.fail_next = True
    group = asynchronous(database) if kind == "postgresql" else LoopPassGroup(database.write)

    async def main() -> list[BaseException | None]:
        first = await asyncio.gather(*(group.write([n]) for n in range(5)), return_exceptions=True)
        after = await asyncio.gather(group.write([99]), return_exceptions=True)
        return [*first, *after]

    results = asyncio.run(main())
    assert all(isinstance(r, RuntimeError) and str(r) == "connection lost" for r in results[:5])
    assert results[5] is None and 99 in database.committed


def test_a_broken_or_foreign_loop_connection_is_closed_and_replaced() -> None:
    database = Database()
    database.fail_next = True
    group = asynchronous(database)
    with pytest.raises(RuntimeError):
        asyncio.run(group.write([1]))
    assert database.closed == [1]  # the connection of the failed transaction is not reused
    asyncio.run(group.write([2]))
    asyncio.run(group.write([3]))  # another loop: its own connection
    assert database.closed == [1, 2] and database.connections == 3
    group.close()
    assert database.closed == [1, 2, 3]
    asyncio.run(group.write([]))  # nothing to write: no connection either
    assert database.connections == 3
