"""What the processes of one locust run agree on through the master: who each user is.

Every user claims a slot, a number no other user of the run holds whatever worker it runs
on: the master (or the single local process) hands them out in order, workers ask it with a
custom message. Slot n is the population's n-th provider of the suite's kind, so each user
has its own keystore, its own mailbox and its own third-party number.
"""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from typing import Any

from gevent.event import AsyncResult
from gevent.lock import Semaphore
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

CLAIM = "mycarenet-claim-slot"
GRANT = "mycarenet-slot"
# Slots start here: two runs at once against one simulator must not be the same providers.
FIRST_ENVIRONMENT = "MYCARENET_LOAD_FIRST_PROVIDER"
CLAIM_TIMEOUT_S = 60.0


class Slots:
    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self._next: dict[str, int] = defaultdict(lambda: int(os.environ.get(FIRST_ENVIRONMENT, 0)))
        self._lock = Semaphore()
        self._waiting: dict[str, AsyncResult] = {}
        runner = environment.runner
        if isinstance(runner, MasterRunner):
            runner.register_message(CLAIM, self._on_claim)
        elif isinstance(runner, WorkerRunner):
            runner.register_message(GRANT, self._on_grant)

    def claim(self, kind: str) -> int:
        """A slot for a user of `kind`, unique in the run across every worker."""
        runner = self.environment.runner
        if not isinstance(runner, WorkerRunner):
            return self._take(kind)
        ticket = uuid.uuid4().hex
        result: AsyncResult = AsyncResult()
        self._waiting[ticket] = result
        runner.send_message(CLAIM, {"ticket": ticket, "kind": kind})
        try:
            return int(result.get(timeout=CLAIM_TIMEOUT_S))
        finally:
            self._waiting.pop(ticket, None)

    def _take(self, kind: str) -> int:
        with self._lock:
            slot = self._next[kind]
            self._next[kind] = slot + 1
            return slot

    def _on_claim(self, environment: Environment, msg: Any, **_: Any) -> None:
        slot = self._take(str(msg.data["kind"]))
        runner = environment.runner
        assert runner is not None
        runner.send_message(GRANT, {"ticket": msg.data["ticket"], "slot": slot}, msg.node_id)

    def _on_grant(self, environment: Environment, msg: Any, **_: Any) -> None:
        waiting = self._waiting.get(str(msg.data["ticket"]))
        if waiting is not None:
            waiting.set(int(msg.data["slot"]))
