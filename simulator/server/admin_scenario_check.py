"""`POST /__admin/scenario/check`: a scenario file checked as `PUT /__admin/scenario` checks it,
without replacing the running scenario (the QA page's "Validate" before "Replace")."""

from __future__ import annotations

from aiohttp import web

from simulator.runtime import Simulator
from simulator.server.admin_http import AdminError, Route, read_body
from simulator.server.admin_scenarios import YAML_TYPES, scenario_from_yaml


def register(app: web.Application, key: web.AppKey[Simulator], route: Route) -> None:
    async def check(request: web.Request) -> web.Response:
        if request.content_type not in YAML_TYPES:
            raise AdminError(
                f"Content-Type {request.content_type} is not accepted: send the scenario file "
                f"as {', '.join(YAML_TYPES)}",
                status=415,
            )
        scenario = scenario_from_yaml(await read_body(request), request.app[key])
        return web.json_response(
            {"valid": True, "name": scenario.name, "rules": len(scenario.rules)}
        )

    route("POST", "/__admin/scenario/check", check)
