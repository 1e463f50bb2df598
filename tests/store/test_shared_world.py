"""The business clock and the running scenario, shared by every process on PostgreSQL: a change
made through one is seen by the others (notified, then read locally), and the schema is the
simulator's own, versioned."""

# ruff: noqa: E402  (the imports after psycopg_or_skip() need psycopg)
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.postgres import psycopg_or_skip

# Everything below needs psycopg at import: the module is skipped without it.
psycopg = psycopg_or_skip()

from simulator.clock import Clock
from simulator.scenarios.model import Scenario
from simulator.security.pki import TestPki
from simulator.store.migrations import LATEST, MIGRATIONS, Migration, SchemaTooNew, migrate
from simulator.store.postgres_pool import ConnectionPool
from simulator.store.shared_clock import SharedClock
from simulator.store.shared_scenario import (
    ScenarioSealError,
    SharedScenario,
    seal,
    sealing_key,
    unseal,
)
from simulator.store.shared_state import SharedState


@pytest.fixture
def states(postgres_url: str) -> Iterator[Callable[[], SharedState]]:
    opened: list[SharedState] = []
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        migrate(connection)

    def open_state() -> SharedState:
        state = SharedState(ConnectionPool(postgres_url, size=2))
        opened.append(state)
        return state

    yield open_state
    for state in opened:
        state.close()


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> float:
    """Seconds until `check()` held; fails after `timeout`."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            pytest.fail("the other process never saw the change")
        time.sleep(0.005)
    return time.monotonic() - start


def test_a_clock_change_in_one_process_reaches_the_other(states: Callable[[], SharedState]) -> None:
    local = Clock()
    local.set(datetime(2025, 10, 15, 9, 0, tzinfo=UTC))
    one = SharedClock.join(states(), local)
    two = SharedClock.join(states())  # joins: takes the stored clock, not real time
    assert abs(two.now() - datetime(2025, 10, 15, 9, 0, tzinfo=UTC)) < timedelta(seconds=5)

    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    one.freeze(at)
    assert one.now() == at and one.frozen  # at once in the process that changed it
    lag = eventually(lambda: two.now() == at)
    assert lag < 2.0 and two.frozen
    two.advance(timedelta(days=2))
    eventually(lambda: one.now() == at + timedelta(days=2))
    one.unfreeze()
    eventually(lambda: not two.frozen)
    assert abs(two.now() - (at + timedelta(days=2))) < timedelta(seconds=5)
    two.reset()
    eventually(lambda: abs(one.now() - datetime.now(UTC)) < timedelta(seconds=5))


def test_concurrent_advances_are_all_applied(states: Callable[[], SharedState]) -> None:
    import threading

    start = datetime(2025, 1, 1, tzinfo=UTC)
    local = Clock()
    local.freeze(start)
    clocks = [SharedClock.join(states(), local) for _ in range(2)]
    threads = [
        threading.Thread(target=lambda c=clock: [c.advance(timedelta(hours=1)) for _ in range(10)])
        for clock in clocks
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for clock in clocks:
        eventually(lambda c=clock: c.now() == start + timedelta(hours=20))


def test_a_replaced_scenario_runs_in_every_process(
    states: Callable[[], SharedState], tmp_path: Path
) -> None:
    key = sealing_key(TestPki.load_or_create(tmp_path))
    running: dict[str, list[str]] = {"one": [], "two": []}
    one = SharedScenario(states(), key, lambda s, _version: running["one"].append(s.name))
    two = SharedScenario(states(), key, lambda s, _version: running["two"].append(s.name))
    one.join(Scenario(name="default"))
    two.join(Scenario(name="ignored: one is stored"))
    assert running == {"one": ["default"], "two": ["default"]}
    two.publish(Scenario(name="chaos", allow_replay=True))
    assert running["two"][-1] == "chaos"
    eventually(lambda: running["one"][-1:] == ["chaos"])
    one.publish(Scenario(name="chaos", allow_replay=True))  # a restart: afresh everywhere
    eventually(lambda: running["two"] == ["default", "chaos", "chaos"])


def test_a_scenario_sealed_by_another_pki_is_never_unpickled(tmp_path: Path) -> None:
    mine = sealing_key(TestPki.load_or_create(tmp_path / "a"))
    theirs = sealing_key(TestPki.load_or_create(tmp_path / "b"))
    sealed = seal(Scenario(name="x"), theirs)
    with pytest.raises(ScenarioSealError):
        unseal(sealed, mine)
    assert unseal(seal(Scenario(name="x"), mine), mine).name == "x"


def test_migrations_are_versioned_idempotent_and_refuse_a_newer_schema(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        assert migrate(connection) == [step.version for step in MIGRATIONS]
        assert migrate(connection) == []
        versions = [row[0] for row in connection.execute("SELECT version FROM schema_version")]
        assert versions == [step.version for step in MIGRATIONS] and versions[-1] == LATEST
        added = Migration(LATEST + 1, "a later step", ("CREATE TABLE later (x INTEGER)",))
        assert migrate(connection, (*MIGRATIONS, added)) == [LATEST + 1]
        with pytest.raises(SchemaTooNew):
            migrate(connection)


def test_a_failing_step_leaves_the_schema_as_it_was(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        migrate(connection)
        broken = Migration(LATEST + 1, "broken", ("CREATE TABLE half (x INTEGER)", "NOT SQL"))
        with pytest.raises(psycopg.Error):
            migrate(connection, (*MIGRATIONS, broken))
        exists = connection.execute("SELECT to_regclass('half') IS NOT NULL").fetchone()
        assert exists is not None and not exists[0]
        assert migrate(connection) == []


RULES = """name: counted
rules:
  - id: third
    match: {service: eattest, operation: SendAttestation, nth: 3}
    action: {type: empty_body}
  - id: twice
    match: {service: etar}
    limit: {count: 2}
    action: {type: connection_reset}
"""


def test_rule_counters_are_shared_by_every_process(postgres_url: str) -> None:
    from simulator.scenarios import CallFacts, ScenarioEngine, load_scenario
    from simulator.store.shared_counters import PostgresTally, forget_before

    with psycopg.connect(postgres_url, autocommit=True) as connection:
        migrate(connection)
    pools = [ConnectionPool(postgres_url, size=2) for _ in range(2)]
    scenario = load_scenario(RULES)
    now = datetime(2026, 3, 2, tzinfo=UTC)

    def engines(generation: int) -> list[ScenarioEngine]:
        return [
            ScenarioEngine(scenario, lambda: now, 1, tally=PostgresTally(pool, generation))
            for pool in pools
        ]

    workers = engines(1)
    attest = CallFacts(service="eattest", operation="SendAttestation")
    fired = [workers[i % 2].decide(attest) for i in range(6)]  # alternate workers
    assert [d.rule_id if d else None for d in fired] == [None, None, "third", None, None, None]
    etar = CallFacts(service="etar", operation="TarificationConsultation")
    resets = [workers[i % 2].decide(etar) for i in range(5)]
    assert sum(1 for d in resets if d is not None) == 2  # count: 2 across both workers
    states = workers[1].states()
    assert (states["third"].matched, states["third"].fired) == (6, 1)
    assert (states["twice"].matched, states["twice"].fired) == (2, 2)
    assert workers[0].decide(CallFacts(service="memberdata", operation="x")) is None

    restarted = engines(2)  # a restart or a replacement: a new generation counts from zero
    forget_before(pools[0], 2)
    fired = [restarted[i % 2].decide(attest) for i in range(3)]
    assert [d.rule_id if d else None for d in fired] == [None, None, "third"]
    assert workers[0].states()["third"].matched == 0  # the old generation is forgotten
    for pool in pools:
        pool.close()
