"""Run a vendor's command once per case against a simulator started for the suite, then judge
the case from the simulator's journal.

Per suite: one simulator in this process (free loopback port, the suite's seed, scenario and
clock, no artificial latency), one keystore per provider the cases use (their other GP's
included, for cases that need a second provider). Per case: the state is emptied (store,
mailboxes, eFact files), the scenario restarted, the clock set to the case's instant
(running), the case file written, the command run with the endpoints in its environment;
then the journal of that case is evaluated.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from simulator.clock import BRUSSELS, Clock
from simulator.config import DEFAULT_SEED, Settings
from simulator.conformance.judging import judge_case
from simulator.conformance.model import Suite
from simulator.conformance.resolve import ResolvedCase, resolve
from simulator.conformance.results import ERROR, CaseResult, RunResult
from simulator.conformance.unsealing import insurer_unsealer
from simulator.domain.population import Provider
from simulator.runtime import Simulator
from simulator.scenarios.loader import load_scenario
from simulator.scenarios.shipped import load_named
from simulator.security.pki import TestPki, write_keystore
from simulator.server.background import BackgroundServer
from simulator.services import efact_processing
from simulator.store.base import JournalQuery

KEYSTORE_PASSWORD = "conformance"  # noqa: S105 (a test keystore's documented password)
OUTPUT_TAIL = 20_000  # characters of the vendor command's output kept in the reports
JOURNAL_LIMIT = 100_000
# Certificates start being valid this long before the earliest suite date.
PKI_LEAD = timedelta(days=30)

# Paths of the services, as in acceptance/production (README endpoint table).
SERVICE_PATHS = {
    "STS": "/IAM/SecurityTokenService/v1",
    "ETK": "/EtkDepot/v1",
    "ETAR": "/MyCareNet/Tarification/v1",
    "MEMBERDATA": "/MyCareNet/MemberData/v1",
    "EATTEST": "/MyCareNet/eAttest/v3",
    "MEDIPRIMA_CONSULT": "/MediPrima/Consult/v2",
    "MEDIPRIMA_UMA": "/MediPrima/UMA/v1",
    "ETAR_MEDIPRIMA": "/MyCareNet/TarificationMediPrima/v1",
    "GENASYNC_HCPFAC": "/mycarenet-ws/async/generic/hcpfac",
    "GENASYNC_HCPFAC12": "/mycarenet-ws/async/generic/hcpfac_12",
}

Progress = Callable[[CaseResult], None]


@dataclass(frozen=True)
class RunOptions:
    command: tuple[str, ...]
    work_dir: Path
    case_ids: tuple[str, ...] = ()  # empty: every case
    timeout_s: float = 120.0
    jobs: int = 1  # suites run at the same time
    patients: int = Settings.patients
    providers: int = Settings.providers
    extra_env: dict[str, str] = field(default_factory=dict)


def run_suites(
    suites: Sequence[Suite], options: RunOptions, progress: Progress | None = None
) -> RunResult:
    started = time.perf_counter()
    pki_dir = _shared_pki(options.work_dir, min(s.at for s in suites) - PKI_LEAD)
    # Suites are independent (a simulator each): run `jobs` of them at once.
    with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
        per_suite = list(pool.map(lambda s: run_suite(s, options, pki_dir, progress), suites))
    results = [case for cases in per_suite for case in cases]
    return RunResult(
        tuple(results),
        round(time.perf_counter() - started, 3),
        options.command,
        tuple(s.id for s in suites),
    )


def _shared_pki(work_dir: Path, valid_from: datetime) -> Path:
    """One test PKI for the whole run (RSA keys are slow to make), valid from before the
    earliest suite date: the simulator checks certificates on its own clock."""
    holder = work_dir / f"pki-from-{valid_from:%Y%m%d}"  # reused by later runs of that date
    TestPki.load_or_create(holder, now=valid_from)
    return holder / "pki"


def selected_cases(suite: Suite, case_ids: Sequence[str]) -> list[str]:
    if not case_ids:
        return [c.id for c in suite.cases]
    known = {c.id for c in suite.cases}
    return [case_id for case_id in case_ids if case_id in known]


def run_suite(
    suite: Suite, options: RunOptions, pki_dir: Path, progress: Progress | None = None
) -> list[CaseResult]:
    wanted = selected_cases(suite, options.case_ids)
    if not wanted:
        return []
    suite_dir = options.work_dir / suite.id
    if suite_dir.exists():
        shutil.rmtree(suite_dir)
    data_dir = suite_dir / "simulator"
    data_dir.mkdir(parents=True)
    shutil.copytree(pki_dir, data_dir / "pki")
    clock = Clock()
    clock.set(suite.at)
    settings = Settings(
        data_dir=data_dir,
        port=0,
        seed=suite.seed if suite.seed is not None else DEFAULT_SEED,
        patients=options.patients,
        providers=options.providers,
        scenario=_scenario_spec(suite.scenario, suite_dir / "scenario.yaml"),
        no_delay=True,
    )
    results: list[CaseResult] = []
    with BackgroundServer(settings, clock) as server:
        keystores = _Keystores(server.sim, suite_dir / "keystores", suite.at - PKI_LEAD)
        for case_id in wanted:
            result = _run_case(server, suite, case_id, options, keystores, suite_dir)
            results.append(result)
            if progress is not None:
                progress(result)
    return results


def _scenario_spec(scenario: str | None, inline_path: Path) -> str:
    """Settings.scenario: a shipped name as is, inline YAML written to a file."""
    if scenario is None:
        return "default"
    if "\n" not in scenario and ":" not in scenario:
        return scenario
    inline_path.write_text(scenario, encoding="utf-8")
    return str(inline_path)


class _Keystores:
    def __init__(self, sim: Simulator, folder: Path, valid_from: datetime) -> None:
        self.sim = sim
        self.folder = folder
        self.valid_from = valid_from
        self._made: dict[str, Path] = {}

    def for_provider(self, provider: Provider) -> Path:
        if provider.nihii not in self._made:
            identity = self.sim.pki.issue_provider(
                provider.nihii,
                provider.ssin,
                f"{provider.first_name} {provider.last_name}",
                now=self.valid_from,
            )
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{provider.nihii}.p12"
            write_keystore(path, identity, KEYSTORE_PASSWORD)
            self._made[provider.nihii] = path
        return self._made[provider.nihii]


def _run_case(
    server: BackgroundServer,
    suite: Suite,
    case_id: str,
    options: RunOptions,
    keystores: _Keystores,
    suite_dir: Path,
) -> CaseResult:
    started = time.perf_counter()
    sim = server.sim
    case = suite.case(case_id)
    try:
        day = (case.at or suite.at).astimezone(BRUSSELS).date()
        resolved = resolve(suite, case, sim.population_on(day))  # the world the case runs in
    except KeyError as missing:
        return _error(suite, case_id, case.title, f"cannot resolve the case: {missing}", started)
    keystore = keystores.for_provider(resolved.provider)
    # The case's other GP signs too when a case needs a second provider (a cancellation by
    # someone else than the author: 245).
    other_gp = sim.population_on(day).provider(resolved.other_gp)
    other_keystore = keystores.for_provider(other_gp) if other_gp is not None else None
    _fresh_state(sim, suite, resolved, suite_dir)
    case_file = suite_dir / "cases" / f"{case.id}.json"
    case_file.parent.mkdir(parents=True, exist_ok=True)
    case_file.write_text(json.dumps(resolved.case_file(), indent=2), encoding="utf-8")
    env = case_environment(server.base_url, sim, resolved, keystore, case_file, other_keystore)
    exit_code, output, error = _run_command(options, {**env, **options.extra_env})
    entries = sim.store.journal(JournalQuery(limit=JOURNAL_LIMIT))
    unsealer = insurer_unsealer(sim.pki.insurer_encryption)
    return judge_case(
        resolved, entries, unsealer, started, exit_code=exit_code, output=output, error=error
    )


def _fresh_state(sim: Simulator, suite: Suite, resolved: ResolvedCase, suite_dir: Path) -> None:
    sim.store.clear()
    sim.records.clear()
    # The insurer's eFact answers are due at once: a vendor polls, it need not wait.
    efact_processing.configure(
        sim,
        efact_processing.ProcessingConfig(
            receipt_after=timedelta(0), check_after=timedelta(0), settle_after=timedelta(0)
        ),
    )
    operations = sim.registry.operation_names()
    scenario_text = resolved.case.scenario or suite.scenario
    if scenario_text is not None and ("\n" in scenario_text or ":" in scenario_text):
        scenario = load_scenario(scenario_text, source=f"{suite.id}/{resolved.case.id}",
                                 default_name="inline", operations=operations)  # fmt: skip
    else:
        scenario = load_named(scenario_text or "default", operations=operations)
    sim.replace_scenario(scenario)
    sim.clock.set(resolved.at)


def case_environment(
    base_url: str,
    sim: Simulator,
    resolved: ResolvedCase,
    keystore: Path,
    case_file: Path,
    other_gp_keystore: Path | None = None,
) -> dict[str, str]:
    env = {
        "MYCARENET_SIM_URL": base_url,
        "MYCARENET_SIM_ADMIN_URL": f"{base_url}/__admin",
        "MYCARENET_SIM_CA": str(sim.pki.ca_cert_path.resolve()),
        "MYCARENET_SIM_KEYSTORE": str(keystore.resolve()),
        "MYCARENET_SIM_KEYSTORE_PASSWORD": KEYSTORE_PASSWORD,
        "MYCARENET_SIM_SUITE": resolved.suite.id,
        "MYCARENET_SIM_CASE": resolved.case.id,
        "MYCARENET_SIM_CASE_FILE": str(case_file.resolve()),
        "MYCARENET_SIM_NOW": sim.clock.now().isoformat(),
        "MYCARENET_SIM_PATIENT": resolved.patient_ssin,
        "MYCARENET_SIM_PROVIDER": resolved.provider.nihii,
    }
    if other_gp_keystore is not None:  # same password as the provider's keystore
        env["MYCARENET_SIM_OTHER_GP_KEYSTORE"] = str(other_gp_keystore.resolve())
    for name, path in SERVICE_PATHS.items():
        env[f"MYCARENET_SIM_{name}_URL"] = base_url + path
    return env


def _run_command(options: RunOptions, env: dict[str, str]) -> tuple[int | None, str, str | None]:
    try:
        done = subprocess.run(
            list(options.command),
            env={**os.environ, **env},
            capture_output=True,
            timeout=options.timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        output = _text(expired.stdout) + _text(expired.stderr)
        return None, output[-OUTPUT_TAIL:], f"the command ran over {options.timeout_s:g} s"
    except OSError as failed:
        return None, "", f"the command could not be started: {failed}"
    output = _text(done.stdout) + _text(done.stderr)
    return done.returncode, output[-OUTPUT_TAIL:], None


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode("utf-8", errors="replace")


def _error(suite: Suite, case_id: str, title: str, message: str, started: float) -> CaseResult:
    return CaseResult(
        suite=suite.id,
        case=case_id,
        title=title,
        verdict=ERROR,
        checks=(),
        messages=(),
        duration_s=round(time.perf_counter() - started, 3),
        error=message,
    )
