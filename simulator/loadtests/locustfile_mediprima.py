"""Locust: MediPrima as a GP sees it, for patients under a CPAS decision.

Each user is one GP of the population (its own keystore from the admin API): it consults the
patient's decision (ConsultCarmedIntervention v2), attests urgent medical aid (UMA send), then
asks CAAMI's tarification for the consultation. The population holds one patient per
MediPrima situation (full, partial, UMA, suspended, expired, ...), so most answers are
business refusals by design: they are answers, not failures; SOAP faults and HTTP errors
are failures.

    mycarenet-sim load mediprima --url http://127.0.0.1:8080 --users 5 --duration 60s

Settings (environment): as the sync suite.
"""

from __future__ import annotations

import contextlib
import random

from locust import events, task

from simulator.client import ServiceFault, mediprima
from simulator.domain.population import Patient
from simulator.loadtests.context import on_init
from simulator.loadtests.practice import ProviderUser
from simulator.loadtests.transport import run_sync

CONSULTATION = "101032"
events.init.add_listener(on_init("mediprima"))


class MediprimaDoctor(ProviderUser):
    def on_start(self) -> None:
        super().on_start()
        self.patients = [p for p in self.suite.population.patients if p.mediprima]
        if not self.patients:
            raise RuntimeError("the simulator's population has no MediPrima patient")

    @task
    def urgent_care(self) -> None:
        # A SOAP fault stops the visit; locust has counted it as a failed request.
        with contextlib.suppress(ServiceFault):
            self._care(random.choice(self.patients))

    def _care(self, patient: Patient) -> None:
        today = self.business_day()
        client = self.connector
        run_sync(
            mediprima.consult(
                client.named("mediprima ConsultCarmedIntervention v2"),
                patient.ssin,
                version=2,
                reference_date=today,
            )
        )
        run_sync(
            mediprima.send_uma(
                client.named("mediprima-uma SendUrgentMedicalAidAttestation"), patient.ssin, today
            )
        )
        run_sync(
            mediprima.tarification(
                client.named("etar-mediprima TarificationConsultation"),
                patient.ssin,
                [CONSULTATION],
                today,
            )
        )
