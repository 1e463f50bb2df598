"""The backends every store contract test runs on: SQLite always, PostgreSQL on a throw-away
cluster when one can be started (mandatory when MYCARENET_REQUIRE_POSTGRES is set)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from simulator.store.backends import Backends, open_backends
from simulator.store.base import JournalPolicy
from tests.support.postgres import Cluster, cluster_or_skip


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    with cluster_or_skip() as cluster:
        yield cluster


@dataclass
class Backend:
    """Opens stores on one place (a data dir or a database), as many times as a test wants:
    each `open()` is what a process (a worker, or the simulator after a restart) opens."""

    kind: str
    data_dir: Path
    url: str | None
    opened: list[Backends] = field(default_factory=list)

    def open(self, policy: JournalPolicy | None = None) -> Backends:
        backends = open_backends(self.data_dir, self.url, policy or JournalPolicy())
        self.opened.append(backends)
        return backends

    def close_all(self) -> None:
        for backends in self.opened:
            for closable in (backends.shared, backends.store, backends.records):
                if closable is None:
                    continue
                with contextlib.suppress(Exception):  # already closed by the test
                    closable.close()
        self.opened.clear()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    url = None
    if request.param == "postgresql":
        cluster: Cluster = request.getfixturevalue("postgres_cluster")
        url = cluster.create_database()
    opened = Backend(request.param, tmp_path / "data", url)
    yield opened
    opened.close_all()


@pytest.fixture
def postgres_url(postgres_cluster: Cluster) -> str:
    """A fresh, empty database on the session's cluster."""
    return postgres_cluster.create_database()
