"""Conformance runs started from the QA page, and the reports in the data dir.

The harness runs a vendor's command against a simulator of its own per suite (fresh state,
the suite's clock and scenario), never against the running one: a run from the page is the
same `mycarenet-sim conformance run` as from a terminal, started as a subprocess with the
package's example client, its reports written under `<data dir>/conformance-reports/<id>/`.
The page lists every report found there (runs from the CLI with `--out` there included) and
shows a run's progress from the lines the command prints per case.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from simulator.conformance.evaluate_journal import evaluate_cases
from simulator.conformance.model import Suite
from simulator.conformance.reports import write_all
from simulator.conformance.resolve import resolve
from simulator.conformance.results import ERROR, CaseResult, RunResult
from simulator.conformance.unsealing import insurer_unsealer
from simulator.runtime import Simulator
from simulator.store.base import JournalQuery

REPORTS_DIR = "conformance-reports"
WORK_DIR = "conformance-work"  # the harness's simulators; its test PKI is reused run to run
MAX_LINES = 500
JOURNAL_LIMIT = 100_000  # entries a live evaluation reads (newest kept by retention)
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$")


@dataclass
class Job:
    id: str
    suite: str
    case: str | None
    fault: str | None
    started: str
    state: str = "running"  # running | passed | failed | error
    exit_code: int | None = None
    lines: list[str] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "suite": self.suite,
            "case": self.case,
            "fault": self.fault,
            "started": self.started,
            "state": self.state,
            "exit_code": self.exit_code,
            "progress": self.lines[-MAX_LINES:],
        }


class Jobs:
    """The runs this server started; one at a time (a run keeps both cores busy)."""

    def __init__(self, data_dir: Path) -> None:
        self.reports = data_dir / REPORTS_DIR
        self.work = data_dir / WORK_DIR
        self.jobs: dict[str, Job] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def running(self) -> Job | None:
        return next((job for job in self.jobs.values() if job.state == "running"), None)

    def command(self, job: Job) -> list[str]:
        client = [sys.executable, "-m", "simulator", "example"]
        client += ["broken-client", job.fault] if job.fault else ["reference-client"]
        command = [sys.executable, "-m", "simulator", "conformance", "run", "--suite", job.suite]
        if job.case:
            command += ["--case", job.case]
        out = self.reports / job.id
        return [*command, "--jobs", "1", "--out", str(out), "--work-dir", str(self.work), "--",
                *client]  # fmt: skip

    def start(self, suite: str, case: str | None, fault: str | None) -> Job:
        now = datetime.now(UTC)
        name = "-".join(part for part in (suite, case, fault) if part)
        job_id = f"{now:%Y%m%dT%H%M%S}-{re.sub(r'[^A-Za-z0-9.-]', '_', name)}"[:80]
        job = Job(job_id, suite, case, fault, now.isoformat(timespec="seconds"))
        self.jobs[job.id] = job
        task = asyncio.get_running_loop().create_task(self._run(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def _run(self, job: Job) -> None:
        self.reports.mkdir(parents=True, exist_ok=True)
        try:
            process = await asyncio.create_subprocess_exec(
                *self.command(job),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
        except OSError as error:
            job.lines.append(f"could not start the run: {error}")
            job.state = "error"
            return
        assert process.stdout is not None
        try:
            async for raw in process.stdout:
                line = raw.decode("utf-8", errors="replace").rstrip()
                if line:
                    job.lines.append(line)
                    del job.lines[:-MAX_LINES]
            job.exit_code = await process.wait()
        except asyncio.CancelledError:
            process.kill()
            await process.wait()
            job.state = "error"
            raise
        job.state = {0: "passed", 1: "failed"}.get(job.exit_code, "error")

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task


def report_folder(reports: Path, run_id: str) -> Path | None:
    """The folder of run `run_id` if it holds a report.json (never outside `reports`)."""
    if not RUN_ID.fullmatch(run_id):
        return None
    folder = reports / run_id
    return folder if (folder / "report.json").is_file() else None


def list_reports(reports: Path) -> list[dict[str, Any]]:
    """Every report under `reports`, newest first, with its totals."""
    found: list[dict[str, Any]] = []
    if not reports.is_dir():
        return found
    for folder in reports.iterdir():
        report = folder / "report.json"
        if not (RUN_ID.fullmatch(folder.name) and report.is_file()):
            continue
        try:
            data = json.loads(report.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        written = report.stat().st_mtime
        found.append(
            {
                "id": folder.name,
                "written": datetime.fromtimestamp(written, UTC).isoformat(timespec="seconds"),
                "passed": bool(data.get("passed")),
                "totals": data.get("totals", {}),
                "suites": data.get("suites", []),
                "html": (folder / "report.html").is_file(),
                "live": is_live(folder),
                "_mtime": written,
            }
        )
    found.sort(key=lambda item: item.pop("_mtime"), reverse=True)
    return found


LIVE_MARKER = "source.json"  # in a report folder: the report judged this simulator's journal


def evaluate_live(
    sim: Simulator, suite: Suite, case_ids: tuple[str, ...], folder: Path
) -> RunResult:
    """`conformance evaluate` on this simulator's own journal: each case judged on the entries
    about its patient and provider (as `evaluate --url` does), the report written in `folder`.
    Its exchanges are this journal's entries, so the page links them to their detail."""
    started = time.perf_counter()
    entries = sim.store.journal(JournalQuery(limit=JOURNAL_LIMIT))
    unsealer = insurer_unsealer(sim.pki.insurer_encryption)
    population = sim.population_on(suite.at.date())
    results: list[CaseResult] = []
    for case in suite.cases:
        if case_ids and case.id not in case_ids:
            continue
        try:
            resolved = resolve(suite, case, population)
        except KeyError as missing:
            results.append(
                CaseResult(suite=suite.id, case=case.id, title=case.title, verdict=ERROR,
                           checks=(), messages=(), duration_s=0.0,
                           error=f"cannot resolve the case in this population: {missing}")
            )  # fmt: skip
            continue
        results.append(evaluate_cases(resolved, list(entries), unsealer))
    run = RunResult(
        tuple(results),
        round(time.perf_counter() - started, 3),
        ("evaluate", "the running simulator's journal"),
        (suite.id,),
    )
    write_all(run, folder)
    (folder / LIVE_MARKER).write_text(json.dumps({"live": True}), encoding="utf-8")
    return run


def is_live(folder: Path) -> bool:
    return (folder / LIVE_MARKER).is_file()
