"""`mycarenet-sim scenario`: check scenario files before loading them, list the shipped ones."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import Any

from simulator.cli.options import add_command_group
from simulator.scenarios import (
    LatencyModel,
    Scenario,
    ScenarioError,
    load_shipped,
    shipped_files,
)
from simulator.scenarios.loader import Operations
from simulator.scenarios.model import ACTION_TYPES
from simulator.scenarios.shipped import load_named

EPILOG = """\
examples:
  mycarenet-sim scenario check my-suite.yaml     errors as FILE:LINE: message, exit code 2
  mycarenet-sim scenario check chaos             a shipped scenario, by name
  mycarenet-sim scenario list                    the scenarios that ship with the simulator
"""


def register(commands: Any) -> None:
    _, sub = add_command_group(
        commands,
        "scenario",
        help="check scenario files and list the shipped ones",
        description="Scenarios make the simulated insurer reject, fail or slow down on purpose.",
        epilog=EPILOG,
    )
    check = sub.add_parser(
        "check",
        help="check scenario files (YAML) and summarise them",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("files", nargs="+", metavar="FILE", help="a scenario file or shipped name")
    check.add_argument("--json", action="store_true", help="one JSON report on stdout")
    check.set_defaults(handler=run_check)
    listing = sub.add_parser("list", help="the shipped scenarios")
    listing.add_argument("--json", action="store_true", help="the list as JSON")
    listing.set_defaults(handler=run_list)


def run_check(args: argparse.Namespace) -> int:
    """Exit 0 when every file is usable, 2 when any is not (every problem of each file, on
    stderr as FILE:LINE: message, or in the JSON report)."""
    operations = _operations()
    status = 0
    report: list[dict[str, Any]] = []
    for name in args.files:
        try:
            scenario = load_named(name, operations=operations)
        except ScenarioError as exc:
            status = 2
            problems = [{"line": p.line, "message": p.message} for p in exc.problems]
            report.append({"file": exc.source, "ok": False, "problems": problems})
            if not args.json:
                for line in exc.lines():
                    print(line, file=sys.stderr)
            continue
        report.append({"file": name, "ok": True, "scenario": scenario.name,
                       "rules": len(scenario.rules), "summary": summary(scenario)})  # fmt: skip
        if not args.json:
            print(f"{name}: ok — {summary(scenario)}")
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    return status


def run_list(args: argparse.Namespace) -> int:
    rows = []
    for name in shipped_files():
        scenario = load_shipped(name)
        rows.append((name, len(scenario.rules), scenario.description))
    if args.json:
        listed = [{"name": n, "rules": r, "description": d} for n, r, d in rows]
        print(json.dumps(listed, indent=2, ensure_ascii=False))
        return 0
    width = max(len(row[0]) for row in rows)
    print(f"{'NAME':<{width}}  RULES  DESCRIPTION")
    for name, count, description in rows:
        print(f"{name:<{width}}  {count:>5}  {description}")
    return 0


def summary(scenario: Scenario) -> str:
    """One line: name, rules by action type, latency models."""
    kinds = Counter(_action_name(type(rule.action)) for rule in scenario.rules)
    actions = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
    rules = f"{len(scenario.rules)} rule{'s' if len(scenario.rules) != 1 else ''}"
    latency = scenario.latency
    if latency.default is None and not latency.endpoints:
        delays = "no latency model"
    else:
        default = _describe(latency.default) if latency.default is not None else "none"
        delays = f"latency default {default}, {len(latency.endpoints)} endpoint model(s)"
    return (
        f"scenario {scenario.name!r}: {rules}"
        + (f" ({actions})" if actions else "")
        + (f"; {delays}")
    )


def _operations() -> Operations:
    # Imported here: the services pull in most of the package, which `list` does not need.
    from simulator.services import catalogue_of_operations
    from simulator.services.registry import Registry

    return Registry(catalogue_of_operations()).operation_names()


def _action_name(cls: type) -> str:
    return next(name for name, known in ACTION_TYPES.items() if known is cls)


def _describe(model: LatencyModel) -> str:
    figures = ", ".join(f"{key} {value:g}" for key, value in vars(model).items())
    return f"{type(model).__name__.lower()} ({figures})"
