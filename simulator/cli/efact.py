"""`mycarenet-sim efact`: generate 920000 invoice files and check them like the insurer would.

The population is rebuilt from --seed/--patients/--providers/--date exactly as `serve` builds it,
so a generated file bills patients the running simulator knows, and `check` prices services
against the same world.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from simulator.cli.options import UsageError, add_command_group
from simulator.codecs.blob import DEFAULT_MAX_SIZE as GENASYNC_BLOB_LIMIT
from simulator.config import DEFAULT_SEED, Settings
from simulator.domain.population import build_population
from simulator.efact.checks import CheckOptions, check_file
from simulator.efact.generator import FAULTS, Spec, generate
from simulator.efact.parser import EfactFormatError

EPILOG = """\
examples:
  mycarenet-sim efact generate --invoices 10000 --errors 2% --out invoices.920000
  mycarenet-sim efact generate --invoices 50 --insurer 100 --seed 7 --date 2026-01-15 --out f
  mycarenet-sim efact generate --invoices 20 --mixed --out mixed.920000   (refused: one union,
                                                                          one doctor a file)
  mycarenet-sim efact check invoices.920000 --date 2026-01-15
  mycarenet-sim efact check TFAC1SC09.509E --date 2014-11-25 --no-world
"""

_DEFAULTS = Settings()


def register(commands: Any) -> None:
    _, sub = add_command_group(
        commands,
        "efact",
        help="eFact 920000 files: generate valid/faulty files, check a file",
        description="Generate eFact invoice files from the population and check them.",
        epilog=EPILOG,
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--seed", default=str(DEFAULT_SEED), help=f"(default {DEFAULT_SEED})")
    common.add_argument("--patients", default=str(_DEFAULTS.patients))
    common.add_argument("--providers", default=str(_DEFAULTS.providers))
    common.add_argument("--date", help="the simulator's today, YYYY-MM-DD (default: today)")

    make = sub.add_parser(
        "generate",
        parents=[common],
        help="write a 920000 file",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    make.add_argument("--invoices", default="100", help="patient invoices (default 100)")
    make.add_argument("--errors", default="0%", help="share of faulty invoices: 2%% or 0.02")
    make.add_argument(
        "--insurer",
        help="the union billed (100, 200, ...); default: the union with the most patients",
    )
    make.add_argument(
        "--mixed",
        action="store_true",
        help="a deliberately mixed file: every union and every GP (the insurer refuses "
        "another union's invoices, B201803, and other doctors' services, R501503)",
    )
    make.add_argument("--sending-number", default="1", help="record 10 zone 7 (default 1)")
    make.add_argument("--out", required=True, type=Path, help="file to write")
    make.add_argument("--json", action="store_true", help="the summary and faults as JSON")
    make.add_argument(
        "--allow-oversize",
        action="store_true",
        help="write a file over the GenAsync blob limit anyway (to test the refusal)",
    )
    make.set_defaults(handler=_run(_generate))

    check = sub.add_parser(
        "check",
        parents=[common],
        help="print the rejections of a file",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("file", type=Path)
    check.add_argument(
        "--no-world",
        action="store_true",
        help="skip beneficiary, provider and tariff checks (foreign files)",
    )
    check.add_argument(
        "--strict-checksum",
        action="store_true",
        help="refuse the +10 checksums of the CIN test files",
    )
    check.add_argument("--json", action="store_true", help="the rejections as JSON")
    check.set_defaults(handler=_run(_check))


def _run(action: Any) -> Any:
    def handler(args: argparse.Namespace) -> int:
        try:
            return int(action(args))
        except (UsageError, EfactFormatError, OSError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2

    return handler


def _int(value: str, option: str, *, low: int = 0, high: int | None = None) -> int:
    try:
        number = int(value)
    except ValueError:
        raise UsageError(f"{option} must be a whole number, got {value!r}") from None
    if number < low or (high is not None and number > high):
        bounds = f"from {low} to {high}" if high is not None else f"{low} or more"
        raise UsageError(f"{option} must be {bounds}, got {number}")
    return number


def _today(value: str | None) -> date:
    if value is None:
        return date.today()  # the command line's own today, not a rule's clock
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--date must be YYYY-MM-DD, got {value!r}") from None


def parse_rate(value: str) -> float:
    """ "2%" -> 0.02, "0.02" -> 0.02; UsageError outside 0..1."""
    text = value.strip()
    try:
        rate = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise UsageError(f"--errors must look like 2% or 0.02, got {value!r}") from None
    if not 0 <= rate <= 1:
        raise UsageError(f"--errors must be between 0% and 100%, got {value!r}")
    return rate


def _population(args: argparse.Namespace, today: date) -> Any:
    return build_population(
        _int(args.seed, "--seed"),
        _int(args.patients, "--patients", low=1),
        _int(args.providers, "--providers", low=1),
        today,
    )


def _generate(args: argparse.Namespace) -> int:
    today = _today(args.date)
    spec = Spec(
        invoices=_int(args.invoices, "--invoices", low=1),
        error_rate=parse_rate(args.errors),
        seed=_int(args.seed, "--seed"),
        today=today,
        insurer=args.insurer,
        mixed=args.mixed,
        sending_number=_int(args.sending_number, "--sending-number", low=1, high=999),
    )
    population = _population(args, today)
    content = io.BytesIO()
    try:
        faults = generate(content, population, spec)
    except ValueError as error:
        raise UsageError(str(error)) from None
    size = content.getbuffer().nbytes
    if size > GENASYNC_BLOB_LIMIT and not args.allow_oversize:
        fitting = int(GENASYNC_BLOB_LIMIT / (size / spec.invoices))
        raise UsageError(
            f"{spec.invoices} invoices make {_megabytes(size)}, over the "
            f"{_megabytes(GENASYNC_BLOB_LIMIT)} GenAsync blob limit: post at most {fitting:,} "
            "invoices a file (or --allow-oversize to test the refusal)"
        )
    args.out.write_bytes(content.getvalue())
    if args.json:
        found = [dataclasses.asdict(fault) for fault in faults]
        written = {"file": str(args.out), "invoices": spec.invoices, "bytes": size}
        print(json.dumps(written | {"faults": found}, indent=2))
        return 0
    kinds = {kind: sum(1 for f in faults if f.kind == kind) for kind in FAULTS}
    summary = ", ".join(f"{kind} {count}" for kind, count in kinds.items() if count)
    print(
        f"{args.out}: {spec.invoices} invoices, {len(faults)} faulty"
        + (f" ({summary})" if summary else "")
    )
    return 0


def _check(args: argparse.Namespace) -> int:
    today = _today(args.date)
    options = CheckOptions(
        today=today,
        population=None if args.no_world else _population(args, today),
        accept_cin_checksum=not args.strict_checksum,
    )
    with args.file.open("rb") as source:
        rejections = check_file(source, options)
    records = len({r.index for r in rejections})
    if args.json:
        found = [dataclasses.asdict(item) for item in rejections]
        print(json.dumps({"file": str(args.file), "records_in_error": records,
                          "rejections": found}, indent=2, default=str))  # fmt: skip
    else:
        for item in rejections:
            print(item)
        print(f"{args.file}: {len(rejections)} rejection(s) on {records} record(s)")
    return 1 if rejections else 0


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"
