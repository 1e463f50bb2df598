"""Counts the suites keep beside locust's request statistics (files and records posted,
answers received, answers missing or repeated), summed over every worker by the master.

Workers hand their new counts to the master with each statistics report (locust's
`report_to_master` / `worker_report` events), and one last report as soon as their users have
stopped; the master and a local run keep the totals.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from locust.env import Environment
from locust.runners import WorkerRunner

REPORT_KEY = "mycarenet_tally"


class Tally:
    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.totals: Counter[str] = Counter()  # master or local: the run's totals
        self._unreported: Counter[str] = Counter()  # worker: not yet sent to the master
        environment.events.report_to_master.add_listener(self._report)
        environment.events.worker_report.add_listener(self._receive)
        environment.events.test_stop.add_listener(self._flush)

    def add(self, name: str, count: int = 1) -> None:
        if isinstance(self.environment.runner, WorkerRunner):
            self._unreported[name] += count
        else:
            self.totals[name] += count

    def _report(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        data[REPORT_KEY] = dict(self._unreported)
        self._unreported.clear()

    def _flush(self, **_: Any) -> None:
        """A worker whose users have stopped (drains included) sends its last figures now.

        Locust sends them only every 3 s and on `quit`, which a worker handles after
        stop_timeout, when the master has already printed its totals: without this, the
        requests of a worker's last seconds would be missing from the master's figures.
        The master reads this report before the worker's `client_stopped` (one socket).
        """
        runner = self.environment.runner
        if isinstance(runner, WorkerRunner):
            runner._send_stats()

    def _receive(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        self.totals.update(data.get(REPORT_KEY, {}))
