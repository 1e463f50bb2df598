"""The business date an eFact run bills on, read from the simulator and moved forward by one
process only (the master, or the single local process).

The insurer accepts one eFact file a day per third party and insurer (domain-rules 6.5,
100724) and a sending number once a year (100721). A run therefore starts on a fresh business
day (so that a second run against the same simulator is not refused as a repeat), and when a
user has sent its file to every insurer for the day, it asks for the next day; the request
names the day it is done with, so the many users asking at once move the clock one day only.
Moving the clock makes the insurer's pending answers due at once: run the simulator with
MYCARENET_EFACT_DELAYS=0,0,0 when the time to answer should be processing time only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from gevent.lock import Semaphore
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from simulator.client.admin_api import AdminApi

NEXT_DAY = "mycarenet-next-day"
MORNING = "08:00:00"  # a new day starts at 08:00 Brussels time, far from midnight


class BusinessDays:
    def __init__(
        self,
        environment: Environment,
        admin: Callable[[], AdminApi],
        on_move: Callable[[], None] = lambda: None,
    ) -> None:
        self.environment = environment
        self._admin = admin  # read on first use: a worker learns the URL when the run starts
        self._on_move = on_move
        self._lock = Semaphore()
        runner = environment.runner
        if isinstance(runner, MasterRunner):
            runner.register_message(NEXT_DAY, self._on_next_day)

    @property
    def coordinates(self) -> bool:
        """Whether this process is the one that moves the clock."""
        return not isinstance(self.environment.runner, WorkerRunner)

    @property
    def admin(self) -> AdminApi:
        return self._admin()

    def today(self) -> date:
        return self.admin.clock().today

    def start_fresh_day(self) -> date:
        """Move to the next business day (test start, master or local process only)."""
        with self._lock:
            return self._move_after(self.today())

    def done_with(self, day: date) -> None:
        """This user has nothing more to send on `day`: the clock moves to the next day,
        once, however many users say so."""
        runner = self.environment.runner
        if isinstance(runner, WorkerRunner):
            runner.send_message(NEXT_DAY, {"after": day.isoformat()})
        else:
            self._after(day)

    def _on_next_day(self, environment: Environment, msg: Any, **_: Any) -> None:
        self._after(date.fromisoformat(str(msg.data["after"])))

    def _after(self, day: date) -> None:
        with self._lock:
            if self.today() <= day:
                self._move_after(day)

    def _move_after(self, day: date) -> date:
        following = day + timedelta(days=1)
        self.admin.set_clock(f"{following.isoformat()}T{MORNING}")
        self._on_move()
        return following
