"""Admin routes of conformance for the QA page: the shipped suites, the runs started here
(progress), the reports in the data dir (verdicts, messages, the HTML report); see
server/conformance_jobs.py for why a run is a subprocess with its own simulators.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aiohttp import web

from simulator.conformance.loader import SuiteError
from simulator.conformance.suites import load_all, load_suite_named
from simulator.runtime import Simulator
from simulator.server.admin_http import AdminError, Route, json_object
from simulator.server.admin_params import only
from simulator.server.conformance_jobs import (
    Jobs,
    evaluate_live,
    is_live,
    list_reports,
    report_folder,
)

JOBS_KEY = web.AppKey("conformance_jobs", Jobs)


@cache
def _suites() -> tuple[dict[str, Any], ...]:
    try:
        suites = load_all()
    except SuiteError:
        return ()
    return tuple(
        {
            "id": suite.id,
            "title": suite.title,
            "cases": [{"id": case.id, "title": case.title} for case in suite.cases],
        }
        for suite in suites
    )


@cache
def _instructions(suite_id: str, case_id: str) -> str:
    """What a tester does for the case (the suite file's instructions), '' when unknown."""
    try:
        return load_suite_named(suite_id).case(case_id).instructions.strip()
    except (KeyError, SuiteError, OSError):
        return ""


def _faults() -> dict[str, str]:
    from simulator.examples.broken_client import FAULTS

    return {name: f"{fault[0]} (caught by {fault[2]})" for name, fault in FAULTS.items()}


def _text(payload: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = payload.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise AdminError(f"{name} must be a non-empty string, got {value!r}")
    return value


def register(app: web.Application, key: web.AppKey[Simulator], route: Route) -> None:
    def jobs(request: web.Request) -> Jobs:
        found = request.app.get(JOBS_KEY)
        if found is None:
            raise AdminError("conformance runs are not set up on this server", status=500)
        return found

    async def setup(app: web.Application) -> None:
        app[JOBS_KEY] = Jobs(app[key].settings.data_dir)

    async def teardown(app: web.Application) -> None:
        if JOBS_KEY in app:
            await app[JOBS_KEY].close()

    app.on_startup.append(setup)
    app.on_shutdown.append(teardown)

    async def overview(request: web.Request) -> web.Response:
        only(request.query, ())
        runs = jobs(request)
        return web.json_response(
            {
                "suites": list(_suites()),
                "faults": _faults(),
                "runs": [job.view() for job in reversed(runs.jobs.values())],
                "reports": list_reports(runs.reports),
            }
        )

    async def start(request: web.Request) -> web.Response:
        payload = await json_object(request, ("suite", "case", "fault"))
        suite = _text(payload, "suite", required=True)
        case, fault = _text(payload, "case"), _text(payload, "fault")
        known = {s["id"]: {c["id"] for c in s["cases"]} for s in _suites()}
        if suite not in known:
            raise AdminError(f"no shipped suite {suite!r}; shipped: {', '.join(known)}")
        if case is not None and case not in known[suite]:
            raise AdminError(f"no case {case!r} in suite {suite}")
        if fault is not None and fault not in _faults():
            raise AdminError(f"no fault {fault!r}; faults: {', '.join(_faults())}")
        runs = jobs(request)
        busy = runs.running()
        if busy is not None:
            raise AdminError(f"run {busy.id} is still going: one run at a time", status=409)
        job = runs.start(str(suite), case, fault)
        return web.json_response(job.view(), status=202)

    async def evaluate(request: web.Request) -> web.Response:
        payload = await json_object(request, ("suite", "case"))
        suite_id = _text(payload, "suite", required=True)
        case = _text(payload, "case")
        known = {s["id"]: {c["id"] for c in s["cases"]} for s in _suites()}
        if suite_id not in known:
            raise AdminError(f"no shipped suite {suite_id!r}; shipped: {', '.join(known)}")
        if case is not None and case not in known[suite_id]:
            raise AdminError(f"no case {case!r} in suite {suite_id}")
        sim = request.app[key]
        suite = load_suite_named(str(suite_id))
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        run_id = f"{stamp}-{suite_id}{'-' + case if case else ''}-live"
        folder = jobs(request).reports / run_id
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(
            None, evaluate_live, sim, suite, (case,) if case else (), folder
        )
        return web.json_response(
            {
                "id": run_id,
                "passed": result.passed,
                "totals": {v: result.count(v) for v in ("pass", "fail", "error")},
            }
        )

    async def one_run(request: web.Request) -> web.Response:
        only(request.query, ())
        job = jobs(request).jobs.get(request.match_info["id"])
        if job is None:
            raise AdminError("no such run started by this server", status=404)
        return web.json_response(job.view())

    async def report(request: web.Request) -> web.Response:
        only(request.query, ())
        folder = report_folder(jobs(request).reports, request.match_info["id"])
        if folder is None:
            raise AdminError("no such report in the data dir", status=404)
        data = json.loads((folder / "report.json").read_text(encoding="utf-8"))
        # A report of this simulator's journal: its exchanges are entries the page can open.
        data["live"] = is_live(folder)
        for case in data.get("cases", []):
            if case.get("verdict") != "pass":
                case["instructions"] = _instructions(case.get("suite", ""), case.get("case", ""))
        return web.json_response(data)

    async def report_html(request: web.Request) -> web.Response:
        only(request.query, ())
        folder = report_folder(jobs(request).reports, request.match_info["id"])
        if folder is None or not (folder / "report.html").is_file():
            raise AdminError("no such HTML report in the data dir", status=404)
        return web.Response(
            body=(folder / "report.html").read_bytes(),
            content_type="text/html",
            charset="utf-8",
            headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
        )

    route("GET", "/__admin/conformance", overview)
    route("POST", "/__admin/conformance/runs", start)
    route("GET", "/__admin/conformance/runs/{id}", one_run)
    route("POST", "/__admin/conformance/evaluations", evaluate)
    route("GET", "/__admin/conformance/reports/{id}", report)
    route("GET", "/__admin/conformance/reports/{id}/html", report_html)
