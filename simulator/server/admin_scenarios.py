"""Admin routes for scenarios and state: list, replace and restart the running scenario,
and reset what the simulator remembers.

A replacement is built and checked completely before it is swapped in, so a refused file
leaves the running scenario exactly as it was, counters included.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from simulator.runtime import Simulator
from simulator.scenarios import Scenario, ScenarioEngine, ScenarioError, load_scenario
from simulator.scenarios.model import ACTION_TYPES
from simulator.scenarios.shipped import load_shipped, shipped_files
from simulator.server.admin_http import (
    JSON_TYPE,
    AdminError,
    Route,
    boolean,
    json_object,
    read_body,
)

log = logging.getLogger(__name__)

# No text/plain: a cross-site HTML form can send it (server/auth.py), and its body can be
# made to parse as YAML.
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
UPLOAD_SOURCE = "<request body>"  # how problems of an uploaded file name it
UPLOAD_DEFAULT_NAME = "uploaded"

_ACTION_NAMES = {action_type: name for name, action_type in ACTION_TYPES.items()}


def active_view(engine: ScenarioEngine) -> dict[str, Any]:
    """The running scenario with each rule's counters."""
    scenario = engine.scenario
    states = engine.states()
    return {
        "name": scenario.name,
        "description": scenario.description,
        "rules": [
            {
                "id": rule.id,
                "description": rule.description,
                "action": _ACTION_NAMES.get(type(rule.action), type(rule.action).__name__),
                "matched": states[rule.id].matched,
                "fired": states[rule.id].fired,
            }
            for rule in scenario.rules
        ],
    }


def shipped_view(sim: Simulator) -> list[dict[str, Any]]:
    operations = sim.registry.operation_names()
    shipped: list[dict[str, Any]] = []
    for name in shipped_files():
        try:
            scenario = load_shipped(name, operations=operations)
        except ScenarioError as error:  # a broken shipped file must not hide the others
            log.warning("shipped scenario %s cannot be loaded: %s", name, error)
            continue
        shipped.append(
            {"name": name, "description": scenario.description, "rules": len(scenario.rules)}
        )
    return shipped


def scenario_from_yaml(body: bytes, sim: Simulator) -> Scenario:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise AdminError(
            "the scenario file is not UTF-8 text",
            problems=[{"line": 1, "message": f"not UTF-8: {error}"}],
        ) from None
    try:
        return load_scenario(
            text,
            source=UPLOAD_SOURCE,
            default_name=UPLOAD_DEFAULT_NAME,
            operations=sim.registry.operation_names(),
        )
    except ScenarioError as error:
        raise refused(error) from None


def scenario_from_shipped(payload: dict[str, Any], sim: Simulator) -> Scenario:
    name = payload.get("shipped")
    if not isinstance(name, str):
        raise AdminError(f'"shipped" must be the name of a shipped scenario, got {name!r}')
    try:
        return load_shipped(name, operations=sim.registry.operation_names())
    except KeyError:
        raise AdminError(
            f"no shipped scenario {name!r}; shipped: {', '.join(shipped_files())}"
        ) from None
    except ScenarioError as error:
        raise refused(error) from None


def refused(error: ScenarioError) -> AdminError:
    count = len(error.problems)
    return AdminError(
        f"the scenario was refused ({count} problem{'s' if count != 1 else ''}); "
        "the running scenario is unchanged",
        problems=[{"line": p.line, "message": p.message} for p in error.problems],
    )


def reset(sim: Simulator, *, clock: bool) -> list[str]:
    """Forget the journal and every stored record, restart the scenario; what was reset."""
    sim.store.clear()
    sim.records.clear()  # eAttest, UMA, eFact files and GenAsync mailboxes
    sim.restart_scenario()
    done = ["journal", "records", "scenario"]
    if clock:
        sim.clock.reset()
        done.append("clock")
    return done


def register(app: web.Application, key: web.AppKey[Simulator], route: Route) -> None:
    async def list_scenarios(request: web.Request) -> web.Response:
        sim = request.app[key]
        return web.json_response(
            {"active": active_view(sim.scenarios), "shipped": shipped_view(sim)}
        )

    async def put_scenario(request: web.Request) -> web.Response:
        sim = request.app[key]
        content_type = request.content_type
        if content_type == JSON_TYPE:
            scenario = scenario_from_shipped(await json_object(request, ("shipped",)), sim)
        elif content_type in YAML_TYPES:
            scenario = scenario_from_yaml(await read_body(request), sim)
        else:
            raise AdminError(
                f"Content-Type {content_type} is not accepted: send a scenario file as "
                f"{', '.join(YAML_TYPES)}, or {JSON_TYPE} {json.dumps({'shipped': 'NAME'})}",
                status=415,
            )
        sim.replace_scenario(scenario)
        return web.json_response(active_view(sim.scenarios))

    async def restart_scenario(request: web.Request) -> web.Response:
        sim = request.app[key]
        sim.restart_scenario()
        return web.json_response(active_view(sim.scenarios))

    async def reset_state(request: web.Request) -> web.Response:
        sim = request.app[key]
        payload = await json_object(request, ("clock",), optional=True)
        done = reset(sim, clock=bool(boolean(payload, "clock")))
        return web.json_response({"reset": done})

    route("GET", "/__admin/scenarios", list_scenarios)
    route("PUT", "/__admin/scenario", put_scenario)
    route("POST", "/__admin/scenario/restart", restart_scenario)
    route("POST", "/__admin/reset", reset_state)
