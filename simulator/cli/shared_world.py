"""`serve --store postgresql://...`: ready the shared world before any worker starts.

Run once, in the parent, before it forks: the schema is migrated, the keys made (so workers
only load them), and this `serve`'s options become every worker's world: its business clock
(`--date`) and its scenario (`--scenario`), as a restart of the embedded simulator does. The
workers then join what is stored. Problems come out as one line each, before the banner.
"""

from __future__ import annotations

from simulator.clock import Clock
from simulator.config import Settings
from simulator.scenarios.shipped import load_named
from simulator.security.pki import TestPki
from simulator.store.backends import shown_url
from simulator.store.migrations import SchemaTooNew, migrate
from simulator.store.postgres_pool import ConnectionPool
from simulator.store.shared_clock import SharedClock
from simulator.store.shared_scenario import SharedScenario, sealing_key
from simulator.store.shared_state import SharedState


class StoreUnavailable(RuntimeError):
    pass


def start_world(settings: Settings, clock: Clock) -> None:
    """Migrate the store and publish the clock and scenario (ScenarioError, StoreUnavailable)."""
    import psycopg

    from simulator.services import catalogue_of_operations
    from simulator.services.registry import Registry

    url = settings.store_url
    if url is None:
        return
    operations = Registry(catalogue_of_operations()).operation_names()
    scenario = load_named(settings.scenario, operations=operations)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    pki = TestPki.load_or_create(settings.data_dir)
    pool = ConnectionPool(url, size=1)
    try:
        with pool.connection() as connection:
            migrate(connection)
        shared = SharedState(pool)
        SharedClock(shared).publish(clock.state())
        SharedScenario(shared, sealing_key(pki), lambda _s, _v: None).publish(scenario)
    except (psycopg.Error, SchemaTooNew) as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        raise StoreUnavailable(f"cannot use the store {shown_url(url)}: {reason}") from None
    finally:
        pool.close()
