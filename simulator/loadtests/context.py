"""What every user of one locust process shares: the admin API, the slots, the tally, the
population, a directory for the keystores, and the summary printed when the run ends.

A locustfile calls `install(environment, suite)` from locust's `init` event; users reach the
context with `context_of(environment)`.
"""

from __future__ import annotations

import atexit
import base64
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import gevent
from locust.env import Environment
from locust.rpc import Message
from locust.runners import MasterRunner, WorkerRunner

from simulator.client.admin_api import AdminApi
from simulator.domain.population import Population, build_population
from simulator.loadtests.coordination import Slots
from simulator.loadtests.summary import Summary, exceptions_of, summarise
from simulator.loadtests.tally import Tally

SUMMARY_ENVIRONMENT = "MYCARENET_LOAD_SUMMARY"  # also write the summary as JSON there
KEY_TYPE_ENVIRONMENT = "MYCARENET_LOAD_KEY_TYPE"  # rsa (default) or ec
WAIT_ENVIRONMENT = "MYCARENET_LOAD_WAIT"
PASSWORD = "load-test"  # noqa: S105 (protects throwaway test keystores)
CLOCK_REFRESH_S = 5.0
_CONTEXTS: dict[int, SuiteContext] = {}


@dataclass(frozen=True)
class Keystore:
    nihii: str
    ssin: str
    name: str
    path: Path
    ca: Path
    password: str


@dataclass
class SuiteContext:
    suite: str
    environment: Environment
    slots: Slots
    tally: Tally
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mycarenet-load-")))
    _offset: timedelta = timedelta(0)
    _read_at: float = float("-inf")
    summary: Summary | None = None

    @cached_property
    def admin(self) -> AdminApi:
        """The admin API of the simulator under test (a worker learns the URL from the
        master when the run starts, so this is read on first use)."""
        host = self.environment.host
        if not host:
            raise RuntimeError("give the simulator's URL: --host http://127.0.0.1:8080")
        return AdminApi(host)

    @cached_property
    def population(self) -> Population:
        """The simulator's population (same seed and size), anchored on its business date."""
        page = self.admin.call("GET", "/__admin/population?limit=1000")
        return build_population(
            seed=int(page["seed"]),
            patients=int(page["total_patients"]),
            providers=len(page["providers"]),
            today=self.admin.clock().today,
        )

    def business_now(self) -> datetime:
        """The simulator's business instant, read again every few seconds."""
        if time.monotonic() - self._read_at > CLOCK_REFRESH_S:
            self._offset = self.admin.clock().now - datetime.now(UTC)
            self._read_at = time.monotonic()
        return datetime.now(UTC) + self._offset

    def keystore(self, kind: str, index: int) -> Keystore:
        """A keystore for the population's `index`-th provider of `kind`, from the admin API."""
        key_type = os.environ.get(KEY_TYPE_ENVIRONMENT, "rsa")
        issued = self.admin.keystore(kind=kind, index=index, password=PASSWORD, key_type=key_type)
        path = self.workdir / f"{kind.lower()}-{index}.p12"
        path.write_bytes(base64.b64decode(issued["pkcs12_base64"]))
        ca = self.workdir / "ca.pem"
        ca.write_text(issued["ca_pem"])
        return Keystore(issued["nihii"], issued["ssin"], issued["name"] or "", path, ca, PASSWORD)

    def take_summary(self) -> None:
        """The run's figures, taken when every user has stopped (the master has every
        worker's last report then), before locust's --json-file clears its statistics."""
        runner = self.environment.runner
        if runner is None or isinstance(runner, WorkerRunner):
            return
        self.summary = summarise(
            self.suite, runner.stats, exceptions_of(runner.exceptions), self.tally.totals
        )

    def print_summary(self) -> None:
        """Printed last, after locust's own tables."""
        summary = self.summary
        if summary is None:
            return
        print("\n" + summary.text(), file=sys.stderr, flush=True)
        target = os.environ.get(SUMMARY_ENVIRONMENT)
        if target:
            summary.write_json(Path(target))


def wait_bounds() -> tuple[float, float]:
    """Seconds between two tasks of a user: MYCARENET_LOAD_WAIT="min,max" (default 0.5,2)."""
    raw = os.environ.get(WAIT_ENVIRONMENT, "0.5,2")
    low, _, high = raw.partition(",")
    return float(low), float(high or low)


def install(environment: Environment, suite: str) -> SuiteContext:
    """The context of this process (call it from the `init` event)."""
    context = SuiteContext(suite, environment, Slots(environment), Tally(environment))
    _CONTEXTS[id(environment)] = context
    environment.events.test_stopping.add_listener(_stop_workers_first)
    environment.events.test_stop.add_listener(lambda **_: context.take_summary())
    environment.events.quit.add_listener(lambda **_: context.print_summary())
    # The keystores are throwaway: gone with the process.
    atexit.register(shutil.rmtree, context.workdir, ignore_errors=True)
    return context


def _stop_workers_first(environment: Environment, **_: Any) -> None:
    """When a distributed run ends, have the workers stop their users and wait for them.

    With --run-time, locust's master quits its workers and gives them half a second for
    their last statistics; users still collecting answers (the efact drain) would then be
    missing from the totals. Told to stop instead, each worker stops its users (drains
    included, within --stop-timeout), sends its last report (tally.Tally) and says it
    stopped; the master waits for that before it sums up."""
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        return
    for worker in list(runner.clients.values()):
        runner.server.send_to_client(Message("stop", None, worker.id))
    # A worker leaves `clients` when it says it stopped, after its users' on_stop (a worker's
    # user count drops to 0 earlier, while its users still drain).
    deadline = time.monotonic() + (environment.stop_timeout or 0) + 60
    while len(runner.clients) and time.monotonic() < deadline:
        gevent.sleep(0.2)


def context_of(environment: Environment) -> SuiteContext:
    return _CONTEXTS[id(environment)]


def on_init(suite: str) -> Any:
    """An `init` listener that installs the context of `suite`."""

    def listener(environment: Environment, **_: Any) -> None:
        install(environment, suite)

    return listener
