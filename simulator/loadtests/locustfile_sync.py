"""Locust: a practice's synchronous calls, one consultation at a time.

Each user is one GP of the population (its own keystore from the admin API) seeing a patient:
MemberData (insurability, sealed), then eTar (the consultation's tariff), then eAttest
(the attestation, sealed and signed). Requests are named as the simulator journals them
("memberdata MemberDataConsultation", ...), so locust's totals can be checked against
GET /__admin/journal. Business errors (a patient not insured, an attestation refused) are
answers like any other; SOAP faults and HTTP errors are failures.

    mycarenet-sim load sync --url http://127.0.0.1:8080 --users 10 --duration 60s [--workers 2]

Settings (environment): MYCARENET_LOAD_WAIT ("min,max" seconds between consultations),
MYCARENET_LOAD_FIRST_PROVIDER, MYCARENET_LOAD_KEY_TYPE, MYCARENET_LOAD_SUMMARY,
MYCARENET_ADMIN_TOKEN.
"""

from __future__ import annotations

import contextlib
import random
from datetime import timedelta
from decimal import Decimal

from locust import events, task

from simulator.client import ServiceFault
from simulator.client import eattest as client_eattest
from simulator.codecs.eattest import ServiceLine
from simulator.domain.population import Patient
from simulator.loadtests.context import on_init
from simulator.loadtests.practice import ProviderUser
from simulator.loadtests.transport import run_sync

CONSULTATION = "101032"  # GP consultation at the surgery
CHARGED = Decimal("30.00")
events.init.add_listener(on_init("sync"))


class Practice(ProviderUser):
    def on_start(self) -> None:
        super().on_start()
        today = self.business_day()
        self.patients = [
            p
            for p in self.suite.population.patients
            if p.situation == "random" and p.period_on(today) is not None and not p.mediprima
        ]

    @task
    def consultation(self) -> None:
        patient = random.choice(self.patients)
        # A SOAP fault stops the visit; locust has counted it as a failed request.
        with contextlib.suppress(ServiceFault):
            self._consult(patient)

    def _consult(self, patient: Patient) -> None:
        today = self.business_day()
        client = self.connector
        run_sync(
            client.named("memberdata MemberDataConsultation").member_data(
                patient.ssin, today, today + timedelta(days=1)
            )
        )
        run_sync(
            client.named("etar TarificationConsultation").tarification(
                patient.ssin, [CONSULTATION], today
            )
        )
        line = ServiceLine(code=CONSULTATION, day=today, amount=CHARGED)
        run_sync(
            client_eattest.send_attestation(
                client.named("eattest SendAttestation"), patient, [line]
            )
        )
