"""The running simulator: settings, clock, keys, store, population and schemas, loaded once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

from simulator.clock import Clock
from simulator.config import SecurityMode, Settings
from simulator.domain.population import Population, build_population
from simulator.scenarios import Scenario, ScenarioEngine
from simulator.scenarios.shipped import load_named
from simulator.security.etk import build_etk
from simulator.security.pki import TestPki, parse_subject
from simulator.security.saml import AssertionCache
from simulator.server.metrics import Metrics
from simulator.services.registry import Registry
from simulator.soap.validation import OfficialSchemas, ProjectSchemas
from simulator.store.base import Store
from simulator.store.records import Records, SqliteRecords
from simulator.store.sqlite import SqliteStore

RESPONSE_TIMESTAMP_TTL = timedelta(minutes=5)


@dataclass
class Simulator:
    settings: Settings
    clock: Clock
    pki: TestPki
    store: Store
    population: Population
    registry: Registry
    schemas: ProjectSchemas
    official_schemas: OfficialSchemas | None
    records: Records
    scenarios: ScenarioEngine
    assertion_cache: AssertionCache = field(default_factory=AssertionCache)
    metrics: Metrics = field(default_factory=Metrics)
    # The admin token when settings.admin_token is None (see server/auth.py).
    generated_admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @property
    def security_mode(self) -> SecurityMode:
        return self.settings.security_mode

    @classmethod
    def create(cls, settings: Settings, clock: Clock | None = None) -> Simulator:
        from simulator.services import catalogue_of_operations

        clock = clock or Clock()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        registry = Registry(catalogue_of_operations())
        scenario = load_named(settings.scenario, operations=registry.operation_names())
        return cls(
            settings=settings,
            clock=clock,
            pki=TestPki.load_or_create(settings.data_dir),
            store=SqliteStore(settings.data_dir / "simulator.sqlite3"),
            population=build_population(
                seed=settings.seed,
                patients=settings.patients,
                providers=settings.providers,
                today=clock.today(),
            ),
            registry=registry,
            schemas=ProjectSchemas(),
            official_schemas=OfficialSchemas(settings.xsd_dir) if settings.xsd_dir else None,
            records=SqliteRecords(settings.data_dir / "simulator.sqlite3"),
            scenarios=_engine(scenario, clock, settings),
        )

    def replace_scenario(self, scenario: Scenario) -> None:
        """Run `scenario` from now on, its rules' counters and time windows starting afresh."""
        self.scenarios = _engine(scenario, self.clock, self.settings)

    def restart_scenario(self) -> None:
        """The running scenario again from its start (counters, draws, time windows)."""
        self.replace_scenario(self.scenarios.scenario)

    @cached_property
    def insurer_etk(self) -> bytes:
        return build_etk(self.pki.insurer_encryption, self.pki.insurer_signing)

    def provider_etk(self, identifier_type: str, value: str) -> bytes | None:
        """The ETK of a provider whose keystore this simulator issued, by SSIN or NIHII."""
        kind = identifier_type.upper()
        if not kind.startswith(("SSIN", "NIHII")):
            return None
        for cert in self.pki.provider_certificates():
            subject = parse_subject(cert)
            held = subject.ssin if kind.startswith("SSIN") else subject.nihii
            if held == value:
                return build_etk(cert, self.pki.insurer_signing)
        return None

    def close(self) -> None:
        self.store.close()
        self.records.close()


def _engine(scenario: Scenario, clock: Clock, settings: Settings) -> ScenarioEngine:
    return ScenarioEngine(scenario, clock.now, settings.seed, no_delay=settings.no_delay)
