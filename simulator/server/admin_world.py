"""Admin routes of the population for the QA page: `world find` (patients by situation, insurer,
flags, age) and `world show` (one patient: periods, facets, decisions), on the business date.

They answer what the `world` command prints (simulator/cli/world.py builds the same records)
for the world of the simulator's clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from aiohttp import web

from simulator.domain.describe import patient_record, patient_summary, provider_record
from simulator.domain.identifiers import is_valid_nihii
from simulator.domain.lookup import FLAGS, PatientQuery
from simulator.domain.population import SITUATIONS, UNIONS
from simulator.runtime import Simulator
from simulator.server.admin_http import AdminError, Route
from simulator.server.admin_params import integer, only

MAX_PAGE = 1000
MAX_AGE = 200
FIND_PARAMETERS = (
    "situation",
    "insurer",
    "mutuality",
    "dmg_holder",
    "flags",
    "without",
    "min_age",
    "max_age",
    "limit",
    "offset",
)


def patient_query(params: Mapping[str, str]) -> PatientQuery:
    """The filters of `world find`, from a query string; AdminError names the bad one."""
    only(params, FIND_PARAMETERS)
    situation = params.get("situation") or None
    if situation is not None and situation not in SITUATIONS:
        raise AdminError(f"situation {situation!r} is unknown; one of: {', '.join(SITUATIONS)}")
    insurer = params.get("insurer") or None
    if insurer is not None and insurer not in UNIONS:
        raise AdminError(f"insurer must be one of {', '.join(UNIONS)}, got {insurer!r}")
    mutuality = params.get("mutuality") or None
    if mutuality is not None and not (len(mutuality) == 3 and mutuality.isdigit()):
        raise AdminError(f"mutuality must be 3 digits, got {mutuality!r}")
    holder = params.get("dmg_holder") or None
    if holder is not None and not is_valid_nihii(holder):
        raise AdminError(f"dmg_holder {holder!r} is not a valid 11-digit NIHII")
    wanted, unwanted = _flags(params, "flags"), _flags(params, "without")
    if wanted & unwanted:
        raise AdminError(f"{sorted(wanted & unwanted)[0]} is both wanted and excluded")
    return PatientQuery(
        situation=situation,
        insurer=insurer,
        mutuality=mutuality,
        dmg_holder=holder,
        flags=wanted,
        without=unwanted,
        min_age=integer(params, "min_age", -1, MAX_AGE) if "min_age" in params else None,
        max_age=integer(params, "max_age", -1, MAX_AGE) if "max_age" in params else None,
    )


def _flags(params: Mapping[str, str], name: str) -> frozenset[str]:
    raw = params.get(name) or ""
    chosen = frozenset(part.strip().upper() for part in raw.split(",") if part.strip())
    unknown = sorted(chosen - FLAGS.keys())
    if unknown:
        raise AdminError(f"{name}: unknown flag {unknown[0]!r}; known: {', '.join(FLAGS)}")
    return chosen


def choices() -> dict[str, Any]:
    return {"situations": list(SITUATIONS), "insurers": list(UNIONS), "flags": FLAGS}


def register(app: web.Application, key: web.AppKey[Simulator], route: Route) -> None:
    async def find(request: web.Request) -> web.Response:
        sim = request.app[key]
        query = patient_query(request.query)
        limit = integer(request.query, "limit", 100, MAX_PAGE)
        offset = integer(request.query, "offset", 0, 10**9)
        today: date = sim.clock.today()
        world = sim.population_on(today)
        found = [p for p in world.patients if query.matches(p, today)]
        return web.json_response(
            {
                "date": today.isoformat(),
                "total": len(found),
                "patients": [patient_summary(p, today) for p in found[offset : offset + limit]],
                "choices": choices(),
            }
        )

    async def show(request: web.Request) -> web.Response:
        only(request.query, ())
        sim = request.app[key]
        identifier = request.match_info["identifier"]
        if not (len(identifier) == 11 and identifier.isascii() and identifier.isdigit()):
            raise AdminError(f"{identifier!r}: a NISS or NIHII has exactly 11 digits")
        today = sim.clock.today()
        world = sim.population_on(today)
        patient = world.find(identifier)
        if patient is not None:
            return web.json_response({"patient": patient_record(patient, today, world)})
        provider = world.provider(identifier)
        if provider is not None:
            return web.json_response({"provider": provider_record(provider, today, world)})
        raise AdminError(
            f"{identifier}: nobody with this NISS or NIHII in the population on {today}",
            status=404,
        )

    route("GET", "/__admin/population/find", find)
    route("GET", "/__admin/population/{identifier}", show)
