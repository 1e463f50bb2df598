"""What the synchronous suites share: a user that is one provider of the population with its
own keystore (from the admin API), the project's client over locust's session, and the
simulator's business date."""

from __future__ import annotations

from datetime import date

from locust import HttpUser, between

from simulator.clock import BRUSSELS
from simulator.loadtests.context import SuiteContext, context_of, wait_bounds
from simulator.loadtests.transport import LocustConnector

KIND = "GP"


class ProviderUser(HttpUser):
    """A user acting as the population's n-th GP, n unique in the run (see coordination)."""

    abstract = True
    wait_time = between(*wait_bounds())

    def on_start(self) -> None:
        self.suite: SuiteContext = context_of(self.environment)
        self.slot = self.suite.slots.claim(KIND)
        self.keystore = self.suite.keystore(KIND, self.slot)
        self.connector = LocustConnector(
            self.client,
            self.keystore.path,
            self.keystore.password,
            ca_cert=self.keystore.ca,
            now=self.suite.business_now,
        )

    def business_day(self) -> date:
        return self.suite.business_now().astimezone(BRUSSELS).date()
