"""A case made concrete in a population: which NISS, which provider, which day.

The result is what the vendor's software receives (MYCARENET_SIM_CASE_FILE) and what the
evaluator needs (CaseFacts). Pure: the population is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from simulator.clock import BRUSSELS
from simulator.conformance.evaluator import CaseFacts
from simulator.conformance.model import Case, Suite
from simulator.domain.population import Patient, Population, Provider


@dataclass(frozen=True)
class ResolvedCase:
    suite: Suite
    case: Case
    at: datetime
    patient_ssin: str
    patient: Patient | None  # None for the "unknown NISS" cases
    provider: Provider
    other_gp: str  # a GP who is neither the provider nor the patient's DMG holder
    population: dict[str, Any]  # seed, sizes and build day: enough to rebuild the same world

    @property
    def facts(self) -> CaseFacts:
        return CaseFacts(self.patient_ssin, self.provider.nihii, self.other_gp)

    def case_file(self) -> dict[str, Any]:
        """What the vendor's test needs to perform the case (written as JSON)."""
        local = self.at.astimezone(BRUSSELS)
        patient: dict[str, Any] = {"ssin": self.patient_ssin, "known": self.patient is not None}
        if self.patient is not None:
            p = self.patient
            patient.update(
                situation=p.situation,
                first_name=p.first_name,
                last_name=p.last_name,
                sex=p.sex,
                birth_date=p.birth_date.isoformat(),
                insurer=p.insurer,
                mutuality=p.mutuality,
                registration_number=p.registration_number,
                dmg_holder=p.dmg_holder,
            )
        provider = self.provider
        return {
            "suite": self.suite.id,
            "case": self.case.id,
            "title": self.case.title,
            "action": self.case.action,
            "instructions": self.case.instructions,
            "at": self.at.isoformat(),
            "date": local.date().isoformat(),
            "patient": patient,
            "provider": {
                "nihii": provider.nihii,
                "ssin": provider.ssin,
                "name": f"{provider.first_name} {provider.last_name}",
                "kind": provider.kind,
            },
            "params": self.case.params,
            "other_gp": self.other_gp,
            "population": self.population,
        }


def resolve(suite: Suite, case: Case, population: Population) -> ResolvedCase:
    """KeyError (with a message) when the population has no such patient or provider."""
    if case.patient.unknown:
        patient = None
        ssin = population.unknown_ssin(0)
    else:
        patient = population.situation(case.patient.situation or "")
        ssin = patient.ssin
    if case.provider.dmg_holder:
        holder = population.provider(patient.dmg_holder or "") if patient else None
        if holder is None:
            raise KeyError(f"case {case.id}: the patient has no DMG holder in the population")
        providers: tuple[Provider, ...] = (holder,)
    else:
        providers = population.providers_of_kind(case.provider.kind)
    if len(providers) <= case.provider.index:
        raise KeyError(
            f"case {case.id}: the population has {len(providers)} {case.provider.kind} "
            f"provider(s), the case wants number {case.provider.index + 1}"
        )
    holder_nihii = (patient.dmg_holder if patient else None) or ""
    provider = providers[case.provider.index]
    other_gp = next(
        gp.nihii
        for gp in population.providers_of_kind("GP")
        if gp.nihii[:8] not in (provider.nihii[:8], holder_nihii[:8])
    )
    return ResolvedCase(
        population={
            "seed": population.seed,
            "patients": len(population.patients),
            "providers": len(population.providers),
            # The server serves the world of its business date (runtime.Simulator.population):
            # the case's instant, once the harness has set the clock to it.
            "built_on": (case.at or suite.at).astimezone(BRUSSELS).date().isoformat(),
        },
        other_gp=other_gp,
        suite=suite,
        case=case,
        at=case.at or suite.at,
        patient_ssin=ssin,
        patient=patient,
        provider=provider,
    )
