"""A scenario's rule counters in PostgreSQL, so that "the n-th call" and "at most count
times" hold across every worker: the 3rd eAttest of the `eattest-rejections` scenario is
rejected once, whichever worker gets it.

Counters are kept per generation (the version of the running scenario in shared_state: a
replaced or restarted scenario counts from zero). `hold` locks the rows of the rules a call
meets (in rule order, so two workers never wait on each other in a cycle), hands them to the
engine and writes back what changed, in one transaction: a few round trips, and only for
calls that meet a rule's criteria.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from simulator.scenarios.tally import RuleState
from simulator.store.postgres_pool import ConnectionPool


class PostgresTally:
    def __init__(self, pool: ConnectionPool, generation: int) -> None:
        self._pool = pool
        self.generation = generation
        self._created: set[str] = set()  # rows known to exist: no INSERT for them

    @contextmanager
    def hold(self, rule_ids: Sequence[str]) -> Iterator[dict[str, RuleState]]:
        ids = sorted(set(rule_ids))
        with self._pool.transaction() as connection:
            missing = [rule for rule in ids if rule not in self._created]
            if missing:
                connection.execute(
                    "INSERT INTO scenario_counters (generation, rule) "
                    "SELECT %s, unnest(%s::text[]) ORDER BY 2 ON CONFLICT DO NOTHING",
                    (self.generation, missing),
                )
            rows = connection.execute(
                "SELECT rule, matched, fired FROM scenario_counters "
                "WHERE generation = %s AND rule = ANY(%s) ORDER BY rule FOR UPDATE",
                (self.generation, ids),
            ).fetchall()
            states = {
                str(rule): RuleState(int(matched), int(fired)) for rule, matched, fired in rows
            }
            before = {rule: (s.matched, s.fired) for rule, s in states.items()}
            yield states
            changed = [
                (state.matched, state.fired, self.generation, rule)
                for rule, state in states.items()
                if (state.matched, state.fired) != before.get(rule)
            ]
            if changed:
                with connection.cursor() as cursor:
                    cursor.executemany(
                        "UPDATE scenario_counters SET matched = %s, fired = %s "
                        "WHERE generation = %s AND rule = %s",
                        changed,
                    )
        self._created.update(missing)

    def states(self) -> dict[str, RuleState]:
        with self._pool.connection() as connection:
            rows = connection.execute(
                "SELECT rule, matched, fired FROM scenario_counters WHERE generation = %s",
                (self.generation,),
            ).fetchall()
        return {str(rule): RuleState(int(matched), int(fired)) for rule, matched, fired in rows}


def forget_before(pool: ConnectionPool, generation: int) -> None:
    """Drop the counters of the scenarios that ran before `generation`."""
    with pool.connection() as connection:
        connection.execute("DELETE FROM scenario_counters WHERE generation < %s", (generation,))
