"""A throw-away PostgreSQL cluster for the tests: initdb into a temporary folder, a unix socket
in that folder and no TCP listener, stopped and deleted at the end.

initdb refuses to run as root: as root (CI), the cluster belongs to the `postgres` OS user
and its commands run through `runuser -u postgres --`. Skipped when PostgreSQL is not
installed, unless MYCARENET_REQUIRE_POSTGRES is set (then it is a failure).
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

REQUIRE_ENV = "MYCARENET_REQUIRE_POSTGRES"
_SEARCHED = ("/usr/lib/postgresql/*/bin",)
_SUPERUSER = "sim"


class PostgresUnavailable(RuntimeError):
    pass


def postgres_bin() -> Path | None:
    """The folder of initdb/pg_ctl: the newest Debian-style install, else the PATH's."""
    found = sorted(Path("/").glob("usr/lib/postgresql/*/bin/initdb"), key=_version, reverse=True)
    if found:
        return found[0].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _version(path: Path) -> float:
    try:
        return float(path.parent.parent.name)
    except ValueError:
        return 0.0


class Cluster:
    """A running cluster; `url(database)` is a libpq URL over its unix socket."""

    def __init__(self, root: Path, bindir: Path, as_user: str | None) -> None:
        self.root = root
        self.data = root / "data"
        self.socket_dir = root / "socket"
        self.bindir = bindir
        self.as_user = as_user
        self.port = 5432

    def _run(self, *command: str) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", self.as_user, "--"] if self.as_user else []
        return subprocess.run(
            [*prefix, *command], capture_output=True, text=True, check=False, timeout=120
        )

    def start(self) -> None:
        for folder in (self.data, self.socket_dir):
            folder.mkdir(mode=0o700)
        if self.as_user:
            shutil.chown(self.root, self.as_user)
            for folder in (self.data, self.socket_dir):
                shutil.chown(folder, self.as_user)
        done = self._run(
            str(self.bindir / "initdb"),
            "-D", str(self.data),
            "-U", _SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )  # fmt: skip
        if done.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {done.stderr or done.stdout}")
        options = (
            f"-c listen_addresses='' -c unix_socket_directories='{self.socket_dir}' "
            f"-c port={self.port} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=200 -c shared_buffers=64MB"
        )
        done = self._run(
            str(self.bindir / "pg_ctl"),
            "-D", str(self.data),
            "-l", str(self.root / "server.log"),
            "-o", options,
            "-w", "-t", "60",
            "start",
        )  # fmt: skip
        if done.returncode != 0:
            log = (self.root / "server.log").read_text(errors="replace")[-2000:]
            raise PostgresUnavailable(f"pg_ctl start failed: {done.stderr}\n{log}")

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{_SUPERUSER}@/{database}?host={self.socket_dir}&port={self.port}"

    def create_database(self, prefix: str = "sim") -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextmanager
def running_cluster() -> Iterator[Cluster]:
    """Start a cluster for the duration of the block; PostgresUnavailable when it cannot."""
    bindir = postgres_bin()
    if bindir is None:
        raise PostgresUnavailable("PostgreSQL is not installed (no initdb)")
    try:
        import psycopg  # noqa: F401
    except ImportError as error:
        raise PostgresUnavailable(
            "psycopg is not installed: pip install -e '.[postgres]'"
        ) from error
    as_user = "postgres" if os.geteuid() == 0 else None
    if as_user and shutil.which("runuser") is None:
        raise PostgresUnavailable("running as root without runuser")
    # Short path: a unix socket path is limited to ~107 bytes.
    root = Path(tempfile.mkdtemp(prefix="mcs-pg-", dir="/tmp"))
    cluster = Cluster(root, bindir, as_user)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def required() -> bool:
    return bool(os.environ.get(REQUIRE_ENV))


def psycopg_or_skip() -> ModuleType:
    """psycopg for a test that needs it: skipped without the [postgres] extra (README's test
    command installs [dev] only), failed when PostgreSQL is required."""
    import pytest

    if required():
        return importlib.import_module("psycopg")
    return pytest.importorskip("psycopg", reason="the [postgres] extra is not installed")


@contextmanager
def cluster_or_skip() -> Iterator[Cluster]:
    """`running_cluster()` for a fixture: skipped without PostgreSQL, failed when required."""
    import pytest

    try:
        with running_cluster() as cluster:
            yield cluster
    except PostgresUnavailable as error:
        if required():
            pytest.fail(f"PostgreSQL is required ({REQUIRE_ENV}) but: {error}")
        pytest.skip(f"no PostgreSQL: {error}")
