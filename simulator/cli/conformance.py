"""`mycarenet-sim conformance`: run homologation-style suites against a vendor's client.

conformance list                       the suites and their cases
conformance show CASE                  what a QA tester does by hand for one case
conformance run --suite eattest -- CMD run CMD once per case, judge, write the reports
conformance evaluate --suite S ...     judge the journal of a simulator that already ran
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from simulator.cli.options import UsageError, add_command_group
from simulator.config import DEFAULT_SEED, Settings
from simulator.conformance.loader import SuiteError
from simulator.conformance.model import Suite
from simulator.conformance.reports import write_all
from simulator.conformance.resolve import resolve
from simulator.conformance.results import CaseResult, RunResult
from simulator.conformance.suites import load_all, load_suite_named
from simulator.domain.population import Population, build_population

EPILOG = """\
examples:
  mycarenet-sim conformance list
  mycarenet-sim conformance show ATT-1
  mycarenet-sim conformance run --suite eattest -- mycarenet-sim example reference-client
  mycarenet-sim conformance run --all --out reports -- ./vendor-test.sh
  mycarenet-sim conformance evaluate --suite etar --case TAR-1 --url http://127.0.0.1:8080

The command gets the case in its environment: MYCARENET_SIM_URL, MYCARENET_SIM_CA,
MYCARENET_SIM_KEYSTORE, MYCARENET_SIM_KEYSTORE_PASSWORD, MYCARENET_SIM_CASE,
MYCARENET_SIM_CASE_FILE (JSON: action, patient, provider, date, params), MYCARENET_SIM_NOW
(the business date; sign with the real clock),
MYCARENET_SIM_OTHER_GP_KEYSTORE (the case's other GP, same password)
and one MYCARENET_SIM_<SERVICE>_URL per service.
"""


def register(commands: Any) -> None:
    _, sub = add_command_group(
        commands,
        "conformance",
        help="homologation-style suites: run a vendor's client, judge it from the journal",
        description=__doc__,
        epilog=EPILOG,
    )
    listing = sub.add_parser("list", help="the suites and their cases")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=_list)

    show = sub.add_parser("show", help="the instructions of one case, for a QA tester")
    show.add_argument("case", help="case id (ATT-1), or SUITE/CASE when ids repeat")
    show.add_argument("--json", action="store_true", help="the case file the command gets")
    show.set_defaults(handler=_show)

    run = sub.add_parser(
        "run",
        help="run a command once per case against a fresh simulator, write the reports",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _suite_arguments(run)
    run.add_argument("--out", type=Path, default=Path("conformance-reports"),
                     help="where junit.xml, report.json and report.html go")  # fmt: skip
    run.add_argument("--work-dir", type=Path, default=None,
                     help="simulator state, keystores and case files (default: temp)")  # fmt: skip
    run.add_argument("--timeout", type=float, default=120.0, help="seconds per case")
    run.add_argument("--jobs", type=int, default=2, help="suites run at the same time (2)")
    run.add_argument("command", nargs=argparse.REMAINDER,
                     help="after `--`: the vendor's test command")  # fmt: skip
    run.set_defaults(handler=_run)

    evaluate = sub.add_parser(
        "evaluate",
        help="judge cases from the journal of a simulator that was already running",
        description="Judge cases from the journal of `mycarenet-sim serve` (default population "
        "sizes, the same --seed). A case is judged on the entries about its patient and "
        "provider; narrow the window with --since/--until when the journal holds other runs.",
    )
    _suite_arguments(evaluate)
    source = evaluate.add_mutually_exclusive_group(required=True)
    source.add_argument("--url", help="base URL of a running simulator (reads /__admin/journal)")
    source.add_argument("--data-dir", type=Path, help="a simulator's data dir (its SQLite store)")
    evaluate.add_argument("--since", help="only entries at or after this ISO instant")
    evaluate.add_argument("--until", help="only entries before this ISO instant")
    evaluate.add_argument("--seed", type=int, default=None, help="the simulator's --seed")
    evaluate.add_argument("--out", type=Path, default=Path("conformance-reports"))
    evaluate.set_defaults(handler=_evaluate)


def _suite_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", action="append", default=[],
                        help="shipped suite (etar, eattest...) or a file; repeatable")  # fmt: skip
    parser.add_argument("--all", action="store_true", help="every shipped suite")
    parser.add_argument("--case", action="append", default=[], help="only this case; repeatable")


def _suites(args: argparse.Namespace) -> list[Suite]:
    """The suites asked for; every --case must name a case of one of them."""
    try:
        if args.all:
            suites = load_all()
        elif not args.suite:
            raise UsageError("name a suite with --suite (see `conformance list`) or use --all")
        else:
            suites = [load_suite_named(name) for name in args.suite]
    except KeyError as error:
        raise UsageError(str(error.args[0])) from None
    known = {case.id for suite in suites for case in suite.cases}
    unknown = [case_id for case_id in args.case if case_id not in known]
    if unknown:
        names = ", ".join(repr(case_id) for case_id in unknown)
        raise UsageError(
            f"no case {names} in the suites selected ({', '.join(s.id for s in suites)}); "
            "`conformance list` shows them"
        )
    return suites


def _guard(handler: Any) -> Any:
    def guarded(args: argparse.Namespace) -> int:
        try:
            return int(handler(args))
        except UsageError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except SuiteError as error:
            print(str(error), file=sys.stderr)
            return 2

    return guarded


@_guard
def _list(args: argparse.Namespace) -> int:
    suites = load_all()
    if args.json:
        data = [
            {"suite": s.id, "title": s.title,
             "cases": [{"id": c.id, "title": c.title, "action": c.action} for c in s.cases]}
            for s in suites
        ]  # fmt: skip
        print(json.dumps(data, indent=2))
        return 0
    for suite in suites:
        print(f"{suite.id}: {suite.title} ({len(suite.cases)} cases)")
        for case in suite.cases:
            print(f"  {case.id:<22} {case.title}")
    return 0


def _find_case(spec: str) -> tuple[Suite, str]:
    suite_name, _, case_id = spec.rpartition("/")
    suites = [load_suite_named(suite_name)] if suite_name else load_all()
    found = [(s, case_id) for s in suites if any(c.id == case_id for c in s.cases)]
    if not found:
        raise UsageError(f"no case {case_id!r}; `conformance list` shows them")
    if len(found) > 1:
        names = ", ".join(f"{s.id}/{case_id}" for s, _ in found)
        raise UsageError(f"case {case_id!r} is in several suites: name one of {names}")
    return found[0]


def _population(suite: Suite, seed: int | None = None) -> Population:
    settings = Settings()
    return build_population(
        seed=seed if seed is not None else (suite.seed or DEFAULT_SEED),
        patients=settings.patients,
        providers=settings.providers,
        today=suite.at.date(),
    )


@_guard
def _show(args: argparse.Namespace) -> int:
    suite, case_id = _find_case(args.case)
    resolved = resolve(suite, suite.case(case_id), _population(suite))
    case_file = resolved.case_file()
    if args.json:
        print(json.dumps(case_file, indent=2))
        return 0
    case = resolved.case
    print(f"{suite.id} / {case.id}: {case.title}")
    print(f"  simulator clock  {case_file['at']} (serve with this date; admin PUT /__admin/clock)")
    if suite.scenario or case.scenario:
        print("  scenario         the suite's scenario (see the suite file)")
    patient = case_file["patient"]
    where = patient.get("situation", "unknown to every insurer")
    print(f"  patient          {patient['ssin']} ({where})")
    provider = case_file["provider"]
    print(f"  provider         {provider['name']}, NIHII {provider['nihii']} ({provider['kind']})")
    print(f"  other GP         NIHII {case_file['other_gp']} (neither you nor the DMG holder)")
    if case.params:
        print(f"  parameters       {json.dumps(case.params)}")
    print("\nWhat to do:")
    for line in case.instructions.splitlines():
        print(f"  {line}")
    print("\nWhat the simulator's journal must show:")
    for check in case.checks:
        print(f"  - {check.says}")
    return 0


@_guard
def _run(args: argparse.Namespace) -> int:
    from simulator.conformance.runner import RunOptions, run_suites

    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise UsageError("give the vendor's test command after `--`")
    suites = _suites(args)
    with tempfile.TemporaryDirectory(prefix="mycarenet-conformance-") as temporary:
        work_dir = args.work_dir or Path(temporary)
        options = RunOptions(
            command=tuple(command),
            work_dir=work_dir,
            case_ids=tuple(args.case),
            timeout_s=args.timeout,
            jobs=args.jobs,
        )
        result = run_suites(suites, options, progress=_print_case)
    if not result.cases:
        raise UsageError("no case selected: check --case against `conformance list`")
    return _finish(result, args.out)


def _print_case(case: CaseResult) -> None:
    print(f"{case.verdict.upper():<5} {case.suite}/{case.case} {case.title} "
          f"({case.duration_s:.1f} s)", flush=True)  # fmt: skip
    for failure in case.failures:
        print(f"      {failure}", flush=True)
    if case.error:
        print(f"      {case.error}", flush=True)


def _finish(result: RunResult, out: Path) -> int:
    paths = write_all(result, out)
    print(
        f"\n{result.count('pass')} passed, {result.count('fail')} failed, "
        f"{result.count('error')} errors, {len(result.cases)} cases in {result.duration_s:.1f} s"
    )
    for kind, path in paths.items():
        print(f"  {kind:<5} {path}")
    return 0 if result.passed else 1


@_guard
def _evaluate(args: argparse.Namespace) -> int:
    from simulator.conformance.evaluate_journal import evaluate_cases, read_journal

    suites = _suites(args)
    started = time.perf_counter()
    entries, unsealer = read_journal(args.url, args.data_dir, args.since, args.until)
    results: list[CaseResult] = []
    for suite in suites:
        population = _population(suite, args.seed)
        ids = args.case or [c.id for c in suite.cases]
        for case_id in ids:
            if not any(c.id == case_id for c in suite.cases):
                continue  # a case of another selected suite
            resolved = resolve(suite, suite.case(case_id), population)
            result = evaluate_cases(resolved, entries, unsealer)
            _print_case(result)
            results.append(result)
    if not results:
        raise UsageError("no case selected: check --case against `conformance list`")
    run = RunResult(
        tuple(results),
        round(time.perf_counter() - started, 3),
        ("evaluate", args.url or str(args.data_dir)),
        tuple(s.id for s in suites),
    )
    return _finish(run, args.out)
