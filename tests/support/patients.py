"""Patients with nothing in the way of an attestation, a different one on each call, so that
end-to-end tests never share a consultation (the insurer remembers every one)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date

from simulator.domain.population import Patient, Population


def plain_patients(
    population: Population, today: date, *, without_dmg: bool = True
) -> Iterator[Patient]:
    """Randomly drawn (the situation patients belong to the tests that name them), insured
    today, alive, not BIM, no medical house, no CPAS decision, and no DMG holder unless
    `without_dmg` is False."""
    for patient in population.patients:
        if (
            patient.situation == "random"
            and (patient.dmg_holder is None or not without_dmg)
            and patient.period_on(today) is not None
            and patient.death_date is None
            and not patient.bim
            and not patient.medical_house
            and not patient.mediprima
        ):
            yield patient


class FreshPatients:
    """`next_for(population, today)`: the next plain patient not handed out before."""

    def __init__(self, *, without_dmg: bool = True, pool: int = 200) -> None:
        self._handed = itertools.count()
        self._without_dmg = without_dmg
        self._pool = pool

    def next_for(self, population: Population, today: date) -> Patient:
        plain = plain_patients(population, today, without_dmg=self._without_dmg)
        return list(itertools.islice(plain, self._pool))[next(self._handed)]
