"""A running simulator and a GP's keystore, shared by the end-to-end tests of one module."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from simulator.client import ConnectorClient
from simulator.domain.population import Population, Provider
from simulator.runtime import Simulator
from simulator.security.pki import write_keystore
from tests.support.server import ServerThread, start_server

PASSWORD = "test-password"


@dataclass
class Running:
    server: ServerThread
    keystore: Path
    provider: Provider

    @property
    def sim(self) -> Simulator:
        assert self.server.sim is not None
        return self.server.sim

    @property
    def population(self) -> Population:
        return self.sim.population

    def client(self, keystore: Path | None = None, **options: object) -> ConnectorClient:
        return ConnectorClient(
            self.server.base_url,
            keystore or self.keystore,
            PASSWORD,
            ca_cert=self.sim.pki.ca_cert_path,
            **options,  # type: ignore[arg-type]
        )

    def keystore_for(self, provider: Provider, name: str, key_type: str = "rsa") -> Path:
        identity = self.sim.pki.issue_provider(
            provider.nihii, provider.ssin, f"{provider.first_name} {provider.last_name}", key_type
        )
        path = self.sim.settings.data_dir / f"{name}.p12"
        write_keystore(path, identity, PASSWORD)
        return path


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    server = start_server(tmp_path_factory.mktemp("sim"))
    assert server.sim is not None
    gp = next(p for p in server.sim.population.providers if p.kind == "GP")
    run = Running(server, Path(), gp)
    run.keystore = run.keystore_for(gp, "gp")
    yield run
    server.stop()
