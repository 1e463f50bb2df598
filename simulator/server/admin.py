"""Admin API under /__admin/ (JSON, described by /__admin/openapi.json) and /metrics.

This module wires the routes; the clock and scenario routes live in admin_clock and
admin_scenarios, the token check in auth, the document in openapi. Every route but health
and /metrics wants the bearer token when the server is not bound to loopback.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import asdict
from datetime import date
from typing import Any

from aiohttp import web

from simulator.domain.population import Patient, Provider
from simulator.runtime import Simulator
from simulator.server import admin_clock, admin_scenarios, auth, metrics, openapi
from simulator.server.admin_http import AdminError, Handler, answering_errors
from simulator.store.base import JournalQuery

MAX_PAGE = 1000
MAX_OFFSET = 10**9
OUTCOMES = ("ok", "business-error", "fault")
JOURNAL_PARAMETERS = (
    "service",
    "operation",
    "outcome",
    "provider",
    "patient",
    "since",
    "until",
    "limit",
    "offset",
    "bodies",
)
POPULATION_PARAMETERS = ("limit", "offset")
_DIGITS = re.compile(r"[0-9]+")


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

    async def journal(request: web.Request) -> web.Response:
        query = journal_query(request.query)
        entries = request.app[key].store.journal(query)
        return web.json_response({"count": len(entries), "entries": [asdict(e) for e in entries]})

    async def population(request: web.Request) -> web.Response:
        sim = request.app[key]
        _only(request.query, POPULATION_PARAMETERS)
        limit = _integer(request.query, "limit", 100, MAX_PAGE)
        offset = _integer(request.query, "offset", 0, MAX_OFFSET)
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
    route("GET", "/__admin/journal", journal)
    route("GET", "/__admin/population", population)
    route("GET", "/__admin/openapi.json", openapi_document)
    admin_clock.register(app, key, route)
    admin_scenarios.register(app, key, route)
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


def journal_query(params: Mapping[str, str]) -> JournalQuery:
    """The journal filters of a query string; AdminError says which one is wrong and why."""
    _only(params, JOURNAL_PARAMETERS)
    outcome = params.get("outcome")
    if outcome is not None and outcome not in OUTCOMES:
        raise AdminError(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
    return JournalQuery(
        service=params.get("service"),
        operation=params.get("operation"),
        outcome=outcome,
        provider_nihii=params.get("provider"),
        patient_ssin=params.get("patient"),
        since=_instant(params, "since"),
        until=_instant(params, "until"),
        limit=_integer(params, "limit", 100, MAX_PAGE),
        offset=_integer(params, "offset", 0, MAX_OFFSET),
        include_bodies=_flag(params, "bodies", default=True),
    )


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


def _only(params: Mapping[str, str], allowed: Collection[str]) -> None:
    # A misspelt filter must not silently widen the answer to everything.
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise AdminError(
            f"unknown parameter(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
        )


def _integer(params: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    """A non-negative integer parameter; values above `maximum` are read as `maximum`."""
    raw = params.get(name)
    if raw is None:
        return default
    if not _DIGITS.fullmatch(raw):
        raise AdminError(f"{name} must be a non-negative integer, got {raw!r}")
    digits = raw.lstrip("0") or "0"
    # Past 18 digits it is above any maximum (and int() refuses very long strings).
    return maximum if len(digits) > 18 else min(int(digits), maximum)


def _flag(params: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = params.get(name)
    if raw is None:
        return default
    if raw.lower() not in ("true", "false"):
        raise AdminError(f"{name} must be true or false, got {raw!r}")
    return raw.lower() == "true"


def _instant(params: Mapping[str, str], name: str) -> str | None:
    """An ISO 8601 instant as the journal stores them (UTC, isoformat) for ordered comparison."""
    raw = params.get(name)
    if raw is None:
        return None
    return admin_clock.parse_instant(raw, name).isoformat()
