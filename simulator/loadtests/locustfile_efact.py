"""Locust: eFact batch submission through GenAsync by many billing offices.

Each user is one GP of the simulator's population acting as its own third party: its own
keystore (issued by the admin API, POST /__admin/keystores), its own mailbox, its own files.
It posts 920000 files to `hcpfac` (HCPFAC, addressed to one union), one file per union per
business day with the day's number in the year as sending number (see efact_files), and
collects the answers with `get` + `confirm`. The business date is the simulator's
(GET /__admin/clock): the run starts on a fresh business day, and when a user has billed
every union for the day, the master moves the clock to the next day (see business_days).
When the run stops, each user keeps collecting until its files are answered (at most
MYCARENET_LOAD_DRAIN_S, default 60 s; give locust a --stop-timeout that long).

    MYCARENET_EFACT_DELAYS=0,0,0 mycarenet-sim serve --no-delay &
    mycarenet-sim load efact --url http://127.0.0.1:8080 --users 10 --duration 60s [--workers 2]
    # or: locust -f .../simulator/loadtests/locustfile_efact.py --host http://127.0.0.1:8080 \
    #         --headless -u 10 -r 2 -t 60s --stop-timeout 70

Settings (environment): MYCARENET_LOAD_INVOICES (invoices per file, default 100),
MYCARENET_LOAD_WAIT ("min,max" seconds between two tasks of a user, default 0.5,2),
MYCARENET_LOAD_FIRST_PROVIDER (the first GP's index, to run two suites at once),
MYCARENET_LOAD_KEY_TYPE (rsa or ec), MYCARENET_LOAD_SUMMARY (write the summary as JSON),
MYCARENET_ADMIN_TOKEN (for a simulator bound beyond loopback).
"""

from __future__ import annotations

import itertools
import os
import time
from datetime import date
from typing import Any

import gevent
from locust import HttpUser, between, events, task
from locust.env import Environment

from simulator.client import genasync as ga
from simulator.loadtests import efact_files
from simulator.loadtests.answers import Answers, reference
from simulator.loadtests.business_days import BusinessDays
from simulator.loadtests.context import SuiteContext, context_of, install, wait_bounds
from simulator.loadtests.transport import LocustConnector, run_sync

KIND = "GP"
MAILBOX = "hcpfac"
INVOICES = int(os.environ.get("MYCARENET_LOAD_INVOICES", "100"))
DRAIN_S = float(os.environ.get("MYCARENET_LOAD_DRAIN_S", "60"))
_days: dict[int, BusinessDays] = {}


@events.init.add_listener
def _install(environment: Environment, **_: Any) -> None:
    context = install(environment, "efact")
    _days[id(environment)] = BusinessDays(
        environment, lambda: context.admin, lambda: context.tally.add("days moved")
    )


@events.test_start.add_listener
def _fresh_day(environment: Environment, **_: Any) -> None:
    days = _days[id(environment)]
    if days.coordinates:  # the master, or the only process
        days.start_fresh_day()


class BillingOffice(HttpUser):
    wait_time = between(*wait_bounds())

    def on_start(self) -> None:
        self.suite: SuiteContext = context_of(self.environment)
        self.days = _days[id(self.environment)]
        self.slot = self.suite.slots.claim(KIND)
        keystore = self.suite.keystore(KIND, self.slot)
        self.population = efact_files.billing_population(self.suite.population, keystore.nihii)
        self.connector = LocustConnector(
            self.client,
            keystore.path,
            keystore.password,
            ca_cert=keystore.ca,
            now=self.suite.business_now,
        )
        self.answers = Answers(self.environment.events.request)
        self.billed: set[tuple[date, str]] = set()  # (received day, union)
        self.patient_days: set[tuple[str, date]] = set()  # (patient, service day) billed
        self.sequence = itertools.count(1)

    @task(1)
    def post_a_file(self) -> None:
        day = self.days.today()
        union = next((u for u in efact_files.UNIONS if (day, u) not in self.billed), None)
        if union is None:
            self.days.done_with(day)  # every union billed today: on to the next day
            return
        sequence = next(self.sequence)
        billing = efact_files.billing_file(
            self.population,
            union=union,
            day=day,
            invoices=INVOICES,
            seed=self.slot * 1_000_000 + sequence,
            billed=self.patient_days,
        )
        ref = reference(self.slot, sequence, int(time.time() * 1000))
        self.billed.add((day, union))
        try:
            run_sync(
                ga.post(
                    self.connector.named("genasync post"),
                    MAILBOX,
                    billing.content,
                    message_name="HCPFAC",
                    destination_io=union,
                    input_reference=ref,

                )
            )
        except ga.GenAsyncFaultError:
            return  # counted by locust as a failed post
        finally:
            # Posted across midnight (or a clock move): the file may count for either day.
            self.billed.add((self.days.today(), union))
        self.answers.posted(ref, billing.records)
        self.suite.tally.add("files")
        self.suite.tally.add("records", billing.records)

    @task(3)
    def collect_answers(self) -> None:
        found = run_sync(ga.get(self.connector.named("genasync get"), MAILBOX, max_messages=100))
        if not found.messages and not found.tacks:
            return
        for message in found.messages:
            kind = message.detail.content[:6].decode("ascii", "replace")
            problem = self.answers.receive(
                kind, message.common.input_reference, len(message.detail.content)
            )
            if problem is not None:
                self.suite.tally.add(problem)
        run_sync(
            ga.confirm(
                self.connector.named("genasync confirm"),
                MAILBOX,
                references=[m.detail.reference or "" for m in found.messages],
                tack_contents=[t.tack.content for t in found.tacks],
            )
        )

    def on_stop(self) -> None:
        """Collect until every file has its verdict (or MYCARENET_LOAD_DRAIN_S passed)."""
        if not hasattr(self, "answers"):
            return  # stopped before it started
        deadline = time.monotonic() + DRAIN_S
        while self.answers.unanswered and time.monotonic() < deadline:
            self.collect_answers()
            gevent.sleep(0.2)
        self.collect_answers()  # settlements already due
        self.suite.tally.add("unanswered", self.answers.unanswered)
