"""Admin API under /__admin/ (JSON, described by /__admin/openapi.json) and /metrics.

This module wires the routes; the clock and scenario routes live in admin_clock and
admin_scenarios, the token check in auth, the document in openapi. Every route but health
and /metrics wants the bearer token when the server is not bound to loopback.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web

from simulator.domain.population import Patient, Provider
from simulator.runtime import Simulator
from simulator.server import (
    admin_clock,
    admin_conformance,
    admin_journal,
    admin_keystores,
    admin_scenario_check,
    admin_scenarios,
    admin_ui,
    admin_world,
    auth,
    metrics,
    openapi,
)
from simulator.server.admin_http import Handler, answering_errors
from simulator.server.admin_params import integer as _integer
from simulator.server.admin_params import only as _only

MAX_PAGE = 1000
MAX_OFFSET = 10**9
POPULATION_PARAMETERS = ("limit", "offset")


def register(app: web.Application, key: web.AppKey[Simulator]) -> None:
    methods: dict[str, list[str]] = {}  # path -> the methods it answers

    def route(method: str, path: str, handler: Handler) -> None:
        """An admin route: token checked first, AdminError answered as JSON."""
        app.router.add_route(method, path, auth.guarded(key, answering_errors(handler)))
        methods.setdefault(path, []).append(method)

    def open_route(method: str, path: str, handler: Handler) -> None:
        app.router.add_route(method, path, answering_errors(handler))
        methods.setdefault(path, []).append(method)

    async def health(request: web.Request) -> web.Response:
        from simulator.server.app import health as health_of

        return web.json_response(health_of(request.app[key]))

    async def population(request: web.Request) -> web.Response:
        sim = request.app[key]
        _only(request.query, POPULATION_PARAMETERS)
        limit = _integer(request.query, "limit", 100, MAX_PAGE)
        offset = _integer(request.query, "offset", 0, MAX_OFFSET)
        # The world of the business date, read once: the page and its date always agree
        # (`world --url` rebuilds the same world from seed, sizes and date).
        today = sim.clock.today()
        world = sim.population_on(today)
        patients = world.patients[offset : offset + limit]
        return web.json_response(
            {
                "seed": sim.settings.seed,
                "date": today.isoformat(),
                "total_patients": len(world.patients),
                "total_providers": len(world.providers),
                "patients": [_patient_summary(p, today) for p in patients],
                "providers": [_provider_summary(p) for p in world.providers[:limit]],
            }
        )

    async def openapi_document(request: web.Request) -> web.Response:
        return web.json_response(openapi.DOCUMENT)

    async def prometheus(request: web.Request) -> web.Response:
        sim = request.app[key]
        states = sim.scenarios.states()
        body = sim.metrics.exposition(
            sim.scenarios.scenario.name,
            {rule: (state.matched, state.fired) for rule, state in states.items()},
            sim.clock.now(),
            sim.clock.frozen,
        )
        return web.Response(body=body, headers={"Content-Type": metrics.CONTENT_TYPE})

    # Health stays open: load balancers and `serve` scripts poll it without credentials.
    open_route("GET", "/__admin/health", health)
    admin_journal.register(app, key, route)
    route("GET", "/__admin/population", population)
    route("GET", "/__admin/openapi.json", openapi_document)
    admin_clock.register(app, key, route)
    admin_scenarios.register(app, key, route)
    admin_scenario_check.register(app, key, route)
    admin_keystores.register(app, key, route)
    admin_world.register(app, key, route)
    admin_conformance.register(app, key, route)
    admin_ui.register(app, key, route, open_route)
    open_route("GET", "/metrics", prometheus)
    for path, allowed in methods.items():
        # Without this, a POST would fall through to the SOAP catch-all and get a fault.
        app.router.add_route("*", path, _method_not_allowed(allowed))


def _method_not_allowed(allowed: list[str]) -> Handler:
    async def refuse(request: web.Request) -> web.Response:
        use = " or ".join(allowed)
        return web.json_response(
            {"error": f"{request.method} is not allowed on {request.path}; use {use}"},
            status=405,
            headers={"Allow": ", ".join(allowed)},
        )

    return refuse


def _patient_summary(patient: Patient, today: date) -> dict[str, Any]:
    period = patient.period_on(today)
    return {
        "ssin": patient.ssin,
        "name": f"{patient.first_name} {patient.last_name}",
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "sex": patient.sex,
        "situation": patient.situation,
        "birth_date": patient.birth_date.isoformat(),
        "insurer": patient.insurer,
        "insured_today": period is not None,
        "ct1_ct2": f"{period.ct1}/{period.ct2}" if period else None,
        "bim": patient.bim,
        "dmg_holder": patient.dmg_holder,
        "medical_house": patient.medical_house,
        "deceased": patient.death_date is not None and patient.death_date <= today,
    }


def _provider_summary(provider: Provider) -> dict[str, Any]:
    return {
        "nihii": provider.nihii,
        "ssin": provider.ssin,
        "name": f"{provider.first_name} {provider.last_name}",
        "kind": provider.kind,
    }
