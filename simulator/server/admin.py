"""Admin API under /__admin/: health, the journal and the population (JSON)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from aiohttp import web

from simulator.domain.population import Patient, Provider
from simulator.runtime import Simulator
from simulator.store.base import JournalQuery

MAX_PAGE = 1000


def register(app: web.Application, key: web.AppKey[Simulator]) -> None:
    async def health(request: web.Request) -> web.Response:
        from simulator.server.app import health as health_of

        return web.json_response(health_of(request.app[key]))

    async def journal(request: web.Request) -> web.Response:
        try:
            query = _journal_query(request.query)
        except ValueError as error:
            return web.json_response({"error": str(error)}, status=400)
        entries = request.app[key].store.journal(query)
        return web.json_response({"count": len(entries), "entries": [asdict(e) for e in entries]})

    async def population(request: web.Request) -> web.Response:
        sim = request.app[key]
        try:
            limit = _integer(request.query, "limit", 100, MAX_PAGE)
            offset = _integer(request.query, "offset", 0, 10**9)
        except ValueError as error:
            return web.json_response({"error": str(error)}, status=400)
        today = sim.clock.today()
        patients = sim.population.patients[offset : offset + limit]
        return web.json_response(
            {
                "seed": sim.settings.seed,
                "total_patients": len(sim.population.patients),
                "patients": [_patient_summary(p, today) for p in patients],
                "providers": [_provider_summary(p) for p in sim.population.providers[:limit]],
            }
        )

    app.router.add_get("/__admin/health", health)
    app.router.add_get("/__admin/journal", journal)
    app.router.add_get("/__admin/population", population)


def _patient_summary(patient: Patient, today: date) -> dict[str, Any]:
    period = patient.period_on(today)
    return {
        "ssin": patient.ssin,
        "name": f"{patient.first_name} {patient.last_name}",
        "situation": patient.situation,
        "birth_date": patient.birth_date.isoformat(),
        "insurer": patient.insurer,
        "insured_today": period is not None,
        "ct1_ct2": f"{period.ct1}/{period.ct2}" if period else None,
        "bim": patient.bim,
        "dmg_holder": patient.dmg_holder,
        "medical_house": patient.medical_house,
        "deceased": patient.death_date is not None,
    }


def _provider_summary(provider: Provider) -> dict[str, Any]:
    return {
        "nihii": provider.nihii,
        "ssin": provider.ssin,
        "name": f"{provider.first_name} {provider.last_name}",
        "kind": provider.kind,
    }


def _integer(params: Any, name: str, default: int, maximum: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise ValueError(f"{name} must be a non-negative integer, got {raw!r}")
    return min(int(raw), maximum)


def _journal_query(params: Any) -> JournalQuery:
    return JournalQuery(
        service=params.get("service"),
        operation=params.get("operation"),
        outcome=params.get("outcome"),
        provider_nihii=params.get("provider"),
        patient_ssin=params.get("patient"),
        since=params.get("since"),
        until=params.get("until"),
        limit=_integer(params, "limit", 100, MAX_PAGE),
        offset=_integer(params, "offset", 0, 10**9),
        include_bodies=params.get("bodies", "true").lower() != "false",
    )
