"""The running simulator: settings, clock, keys, store, population and schemas, loaded once.

The population is the world of the business date (`population` reads `clock.today()`): moving
the clock moves insurability periods, CPAS decisions, contracts and deaths with it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric import rsa

from simulator.clock import BRUSSELS, Clock
from simulator.config import SecurityMode, Settings
from simulator.domain.population import Population
from simulator.domain.worlds import Worlds
from simulator.scenarios import Scenario, ScenarioEngine
from simulator.scenarios.shipped import load_named
from simulator.scenarios.tally import Tally
from simulator.security.etk import build_etk
from simulator.security.pki import TestPki, parse_subject
from simulator.security.saml import AssertionCache
from simulator.server.metrics import Metrics
from simulator.services.registry import Registry
from simulator.soap.validation import OfficialSchemas, ProjectSchemas
from simulator.store.backends import open_backends
from simulator.store.base import JournalBodies, JournalPolicy, Store
from simulator.store.ledger import Ledger, RecordsLedger
from simulator.store.records import Records

if TYPE_CHECKING:  # the shared-state modules need psycopg, which only the [postgres] extra has
    from simulator.store.shared_scenario import SharedScenario
    from simulator.store.shared_state import SharedState

RESPONSE_TIMESTAMP_TTL = timedelta(minutes=5)


@dataclass
class Simulator:
    settings: Settings
    clock: Clock
    pki: TestPki
    store: Store
    worlds: Worlds
    registry: Registry
    schemas: ProjectSchemas
    official_schemas: OfficialSchemas | None
    records: Records
    scenarios: ScenarioEngine
    assertion_cache: AssertionCache = field(default_factory=AssertionCache)
    metrics: Metrics = field(default_factory=Metrics)
    # The admin token when settings.admin_token is None (see server/auth.py).
    generated_admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    # "sqlite" (one process) or "postgresql": then the clock and the running scenario are
    # shared with every other process on the store (store/shared_clock.py, shared_scenario.py).
    store_kind: str = "sqlite"
    shared: SharedState | None = None
    shared_scenario: SharedScenario | None = None

    @property
    def population(self) -> Population:
        """The world of the business date: every rule sees the people as they are today."""
        now = self.clock.now().astimezone(BRUSSELS)
        if now.hour == 23 and not self.clock.frozen:
            # The clock runs towards midnight: tomorrow's world is built off the hot path.
            self.worlds.prefetch(now.date() + timedelta(days=1))
        return self.worlds.on(now.date())

    def population_on(self, day: date) -> Population:
        """The world of `day` (eFact files are judged on the day they are processed)."""
        return self.worlds.on(day)

    @property
    def security_mode(self) -> SecurityMode:
        return self.settings.security_mode

    def wire_now(self) -> datetime:
        """Wire time: what WS-Security timestamps, SAML validity, certificates and seals are
        judged against. Always the real clock, because vendors' software signs with it; the
        business `clock` (eligibility, same-day, two months) is set apart by the admin API."""
        return datetime.now(UTC)

    @classmethod
    def create(cls, settings: Settings, clock: Clock | None = None) -> Simulator:
        from simulator.services import catalogue_of_operations

        clock = clock or Clock()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        registry = Registry(catalogue_of_operations())
        scenario = load_named(settings.scenario, operations=registry.operation_names())
        backends = open_backends(settings.data_dir, settings.store_url, journal_policy(settings))
        if backends.shared is not None:
            from simulator.store.shared_clock import SharedClock

            # The clock every process shares: the stored one, or this one becomes it.
            clock = SharedClock.join(backends.shared, clock)
        sim = cls(
            settings=settings,
            clock=clock,
            pki=TestPki.load_or_create(settings.data_dir),
            store=backends.store,
            worlds=Worlds(settings.seed, settings.patients, settings.providers),
            registry=registry,
            schemas=ProjectSchemas(),
            official_schemas=OfficialSchemas(settings.xsd_dir) if settings.xsd_dir else None,
            records=backends.records,
            scenarios=_engine(scenario, clock, settings),
            store_kind=backends.kind,
            shared=backends.shared,
        )
        if backends.shared is not None:
            from simulator.store.shared_scenario import SharedScenario, sealing_key

            sim.shared_scenario = SharedScenario(
                backends.shared, sealing_key(sim.pki), sim._run_scenario
            )
            sim.shared_scenario.join(scenario)
        return sim

    def __post_init__(self) -> None:
        self.population  # noqa: B018 - build today's world at start, not on the first request

    def replace_scenario(self, scenario: Scenario) -> None:
        """Run `scenario` from now on, its rules' counters and time windows starting afresh
        (in every process sharing the store)."""
        if self.shared_scenario is not None:
            self.shared_scenario.publish(scenario)
        else:
            self._run_scenario(scenario)

    def _run_scenario(self, scenario: Scenario, generation: int | None = None) -> None:
        tally = None
        if self.shared is not None and generation is not None:
            from simulator.store.shared_counters import PostgresTally

            tally = PostgresTally(self.shared.pool, generation)  # counted by every worker
        self.scenarios = _engine(scenario, self.clock, self.settings, tally)

    def restart_scenario(self) -> None:
        """The running scenario again from its start (counters, draws, time windows)."""
        self.replace_scenario(self.scenarios.scenario)

    @cached_property
    def ledger(self) -> Ledger:
        """The services each insurer accepted (eAttest, eFact, MediPrima), kept in `records`:
        duplicates, cumulation, renewal delays and tooth limits are judged against it."""
        return RecordsLedger(self.records)

    @cached_property
    def insurer_etk(self) -> bytes:
        return build_etk(self.pki.insurer_encryption, self.pki.insurer_signing)

    def provider_etk(self, identifier_type: str, value: str) -> bytes | None:
        """The ETK of a provider whose keystore this simulator issued, by SSIN or NIHII."""
        kind = identifier_type.upper()
        if not kind.startswith(("SSIN", "NIHII")):
            return None
        for cert in self.pki.provider_certificates():  # the newest of a holder first
            if not isinstance(cert.public_key(), rsa.RSAPublicKey):
                continue  # ETKs use RSA key transport: an EC keystore has none
            subject = parse_subject(cert)
            held = subject.ssin if kind.startswith("SSIN") else subject.nihii
            if held == value:
                return build_etk(cert, self.pki.insurer_signing)
        return None

    def close(self) -> None:
        if self.shared is not None:
            self.shared.close()
        self.store.close()
        self.records.close()


def journal_policy(settings: Settings) -> JournalPolicy:
    age = settings.journal_max_age_s
    return JournalPolicy(
        bodies=JournalBodies(settings.journal_bodies),
        max_rows=settings.journal_max_rows,
        max_age=timedelta(seconds=age) if age is not None else None,
    )


def _engine(
    scenario: Scenario, clock: Clock, settings: Settings, tally: Tally | None = None
) -> ScenarioEngine:
    return ScenarioEngine(
        scenario, clock.now, settings.seed, no_delay=settings.no_delay, tally=tally
    )
