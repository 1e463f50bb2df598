"""`mycarenet-sim world`: look at the synthetic population to pick the right patient for a case.

With --url the running simulator says which world it serves (seed, sizes and its business date,
from GET /__admin/population) and that world is rebuilt here: what is printed is what the server
answers for right now, whatever its clock says. Without --url the population is built from
--seed/--patients/--providers/--date exactly as `serve` builds it for that business date.
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from simulator.cli.options import UsageError, add_command_group
from simulator.clock import Clock
from simulator.config import DEFAULT_SEED, Settings
from simulator.domain.describe import patient_record, patient_summary, plain, provider_record
from simulator.domain.identifiers import is_valid_nihii, is_valid_niss
from simulator.domain.lookup import FLAGS, PatientQuery
from simulator.domain.population import (
    SITUATIONS,
    UNIONS,
    Patient,
    Population,
    Provider,
    build_population,
)

EPILOG = """\
examples:
  mycarenet-sim world list --limit 40
  mycarenet-sim world find --bim --insurer 300 --dmg-holder 10394044003
  mycarenet-sim world find --situation mediprima-uma --json
  mycarenet-sim world find --flag CHRONIC --without DMG --min-age 75
  mycarenet-sim world show 93062644690          a patient (or a provider's NIHII)
  mycarenet-sim world show 93062644690 --date 2025-11-03
  mycarenet-sim world find --situation deceased --url http://127.0.0.1:8080   the server's world
"""
ADMIN_TOKEN_ENV = "MYCARENET_SIM_ADMIN_TOKEN"  # noqa: S105 - the variable's name, no secret
HTTP_TIMEOUT_S = 10

_DEFAULTS = Settings()


def register(commands: Any) -> None:
    _, sub = add_command_group(
        commands,
        "world",
        help="the synthetic population: list, find and show patients and providers",
        description="List, find and show the patients and providers the simulator knows.",
        epilog=EPILOG,
    )

    # Numbers are read as text and checked by the handler: a bad value is one line, not usage.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--seed", help=f"(default {DEFAULT_SEED})")
    common.add_argument("--patients", help=f"(default {_DEFAULTS.patients})")
    common.add_argument("--providers", help=f"(default {_DEFAULTS.providers})")
    common.add_argument("--date", help="the simulator's today, YYYY-MM-DD (default: today)")
    common.add_argument(
        "--url",
        help="a running simulator (http://host:port): describe the world it serves now, on its "
        "business date (instead of --seed/--patients/--providers/--date)",
    )
    common.add_argument(
        "--admin-token",
        default=os.environ.get(ADMIN_TOKEN_ENV),
        help=f"bearer token of the admin API when the server is not on loopback "
        f"(default: ${ADMIN_TOKEN_ENV})",
    )
    common.add_argument("--ca", type=Path, help="CA certificate (PEM) of an https --url")
    common.add_argument("--json", action="store_true", help="print JSON instead of a table")

    listing = sub.add_parser(
        "list",
        parents=[common],
        help="a table of patients",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    listing.add_argument("--limit", default="50", help="rows to print, 0 = all (default 50)")
    listing.set_defaults(handler=_guarded(run_list))

    find = sub.add_parser(
        "find",
        parents=[common],
        help="patients matching every filter given",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_filters(find)
    find.set_defaults(handler=_guarded(run_find))

    show = sub.add_parser(
        "show",
        parents=[common],
        help="everything about one patient or provider",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    show.add_argument("identifier", help="a patient's NISS or a provider's / institution's NIHII")
    show.set_defaults(handler=_guarded(run_show))


def _add_filters(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--situation", help=f"one of: {', '.join(SITUATIONS)}, random")
    add("--insurer", help=f"national union: {', '.join(UNIONS)}")
    add("--mutuality", help="3-digit mutuality code, e.g. 319")
    add("--dmg-holder", metavar="NIHII", help="patients whose DMG this GP holds")
    add("--min-age", help="age on --date at least")
    add("--max-age", help="age on --date at most")
    # Shortcuts for the flags testers ask for most; --flag/--without reach every other one.
    shortcuts = {
        "--bim": "BIM",
        "--no-supp": "NOSUPP",
        "--tp-mandatory": "TP",
        "--dmg": "DMG",
        "--medical-house": "MM",
        "--chronic": "CHRONIC",
        "--palliative": "PALLIATIVE",
        "--hospitalised": "HOSP",
        "--deceased": "DECEASED",
        "--insured": "INSURED",
        "--cpas": "CPAS",
        "--uma": "UMA",
    }
    for option, flag in shortcuts.items():
        add(option, dest="flags", action="append_const", const=flag, help=FLAGS[flag])
    add("--no-bim", dest="without", action="append_const", const="BIM", help="not BIM")
    add(
        "--not-insured",
        dest="without",
        action="append_const",
        const="INSURED",
        help="no insurability period on --date",
    )
    add(
        "--flag",
        dest="flags",
        action="append",
        metavar="FLAG",
        help=f"flag that must hold: {', '.join(FLAGS)}",
    )
    add("--without", dest="without", action="append", metavar="FLAG", help="flag that must not")
    add("--limit", default="0", help="rows to print, 0 = all (default)")


def _guarded(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn usage errors into one line on stderr and exit code 2, without a traceback."""

    def handler(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except UsageError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except BrokenPipeError:  # `world list | head`: the reader left, nothing to report
            sys.stdout = Path(os.devnull).open("w")  # noqa: SIM115 - replaces the closed stream
            return 0

    return handler


# -- options -----------------------------------------------------------------------------------


_SIZE_DEFAULTS = {
    "seed": DEFAULT_SEED,
    "patients": _DEFAULTS.patients,
    "providers": _DEFAULTS.providers,
}


def _integer(args: argparse.Namespace, name: str, minimum: int = 0) -> int:
    raw = getattr(args, name)
    if raw is None:
        return _SIZE_DEFAULTS[name]
    option = "--" + name.replace("_", "-")
    try:
        value = int(raw)
    except ValueError:
        raise UsageError(f"{option} {raw!r}: expected a whole number") from None
    if value < minimum:
        raise UsageError(f"{option} {value}: must be at least {minimum}")
    return value


def _day(args: argparse.Namespace) -> date:
    if args.date is None:
        return Clock().today()
    try:
        return date.fromisoformat(args.date)
    except ValueError:
        raise UsageError(f"--date {args.date!r}: expected YYYY-MM-DD") from None


def _world(args: argparse.Namespace) -> tuple[Population, date]:
    """The population and its business date: the running server's (--url), else built here."""
    if getattr(args, "url", None):
        given = [f"--{n}" for n in ("seed", "patients", "providers", "date") if getattr(args, n)]
        if given:
            raise UsageError(f"--url describes the server's world: drop {', '.join(given)}")
        seed, patients, providers, day = server_world(args.url, args.admin_token, args.ca)
        return build_population(seed, patients, providers, day), day
    day = _day(args)
    return _population(args, day), day


def _population(args: argparse.Namespace, day: date) -> Population:
    seed = _integer(args, "seed")
    return build_population(seed, _integer(args, "patients"), _integer(args, "providers"), day)


def server_world(
    url: str, token: str | None = None, ca: Path | None = None
) -> tuple[int, int, int, date]:
    """(seed, patients, providers, business date) of the simulator at `url`: its world is
    build_population of these (runtime.Simulator.population), so it is rebuilt, not paged."""
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--url {url!r}: expected http://host:port or https://host:port")
    address = f"{url.rstrip('/')}/__admin/population?limit=0"
    request = urllib.request.Request(address)  # noqa: S310 - http(s) only, checked above
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    context = ssl.create_default_context(cafile=str(ca)) if ca is not None else None
    try:
        with urllib.request.urlopen(  # noqa: S310 - http(s) only, checked above
            request, timeout=HTTP_TIMEOUT_S, context=context
        ) as answer:
            page = json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        hint = f" (give --admin-token or ${ADMIN_TOKEN_ENV})" if refused.code == 401 else ""
        raise UsageError(f"{url}: the admin API answered {refused.code}{hint}") from None
    except (urllib.error.URLError, OSError) as broken:
        raise UsageError(f"{url}: no simulator answers there ({broken})") from None
    try:
        return (
            int(page["seed"]),
            int(page["total_patients"]),
            int(page["total_providers"]),
            date.fromisoformat(page["date"]),
        )
    except (KeyError, TypeError, ValueError):
        raise UsageError(f"{url}: /__admin/population does not give seed, sizes and date") from None


def query_from(args: argparse.Namespace) -> PatientQuery:
    """The filters of `world find`, checked one by one with a message naming the option."""
    if args.situation is not None and args.situation not in (*SITUATIONS, "random"):
        raise UsageError(f"--situation {args.situation!r}: unknown; see `world find --help`")
    if args.insurer is not None and args.insurer not in UNIONS:
        raise UsageError(f"--insurer {args.insurer!r}: expected one of {', '.join(UNIONS)}")
    mutuality = args.mutuality
    if mutuality is not None and not (len(mutuality) == 3 and mutuality.isdigit()):
        raise UsageError(f"--mutuality {mutuality!r}: expected 3 digits")
    if args.dmg_holder is not None and not is_valid_nihii(args.dmg_holder):
        raise UsageError(f"--dmg-holder {args.dmg_holder!r}: not a valid 11-digit NIHII")
    wanted = frozenset(flag.upper() for flag in args.flags or ())
    unwanted = frozenset(flag.upper() for flag in args.without or ())
    unknown = sorted((wanted | unwanted) - FLAGS.keys())
    if unknown:
        raise UsageError(f"--flag/--without {unknown[0]!r}: expected one of {', '.join(FLAGS)}")
    if wanted & unwanted:
        raise UsageError(f"{sorted(wanted & unwanted)[0]} is both wanted and excluded")
    return PatientQuery(
        situation=args.situation,
        insurer=args.insurer,
        mutuality=mutuality,
        dmg_holder=args.dmg_holder,
        flags=wanted,
        without=unwanted,
        min_age=None if args.min_age is None else _integer(args, "min_age"),
        max_age=None if args.max_age is None else _integer(args, "max_age"),
    )


# -- commands ----------------------------------------------------------------------------------


def run_list(args: argparse.Namespace) -> int:
    limit = _integer(args, "limit")
    population, day = _world(args)
    chosen = population.patients[:limit] if limit else population.patients
    _print_patients(chosen, day, args.json, total=len(population.patients))
    return 0


def run_find(args: argparse.Namespace) -> int:
    query = query_from(args)
    limit = _integer(args, "limit")
    population, day = _world(args)
    found = tuple(p for p in population.patients if query.matches(p, day))
    _print_patients(found[:limit] if limit else found, day, args.json, total=len(found))
    return 0


def run_show(args: argparse.Namespace) -> int:
    identifier = args.identifier.strip()
    if len(identifier) != 11 or not identifier.isdigit():
        raise UsageError(f"{identifier!r}: a NISS or NIHII has exactly 11 digits")
    population, day = _world(args)
    patient = population.find(identifier)
    if patient is not None:
        record = patient_record(patient, day, population)
    elif provider := _provider(population, identifier):
        record = provider_record(provider, day, population)
    elif is_valid_nihii(identifier) and (place := population.institution(identifier)):
        record = {"institution": plain(place)}
    elif is_valid_niss(identifier, today=day) or is_valid_nihii(identifier):
        raise UsageError(
            f"{identifier}: nobody with this NISS or NIHII in the population "
            f"(seed {population.seed}, {len(population.patients)} patients)"
        )
    else:
        raise UsageError(f"{identifier}: check digits wrong for a NISS and for a NIHII")
    if args.json:
        print(json.dumps(record, indent=2, ensure_ascii=False))
    else:
        print("\n".join(_outline(record)))
    return 0


def _provider(population: Population, identifier: str) -> Provider | None:
    """A provider by NIHII, or by the NISS of the person (as on their certificate)."""
    by_nihii = population.provider(identifier) if is_valid_nihii(identifier) else None
    return by_nihii or next((p for p in population.providers if p.ssin == identifier), None)


# -- text output -------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    line = "  ".join(f"{{:<{width}}}" for width in widths)
    return [line.format(*headers).rstrip()] + [line.format(*r).rstrip() for r in rows]


def _print_patients(patients: Sequence[Patient], day: date, as_json: bool, total: int) -> None:
    summaries = [patient_summary(p, day) for p in patients]
    if as_json:
        print(
            json.dumps(
                {"date": day.isoformat(), "total": total, "patients": summaries},
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    rows = [
        [
            s["ssin"],
            s["name"],
            str(s["age"]),
            s["insurer"],
            s["mutuality"],
            s["situation"],
            ",".join(s["flags"]),
        ]
        for s in summaries
    ]
    headers = ("SSIN", "NAME", "AGE", "INSURER", "MUT", "SITUATION", "FLAGS")
    print("\n".join(table(headers, rows)))
    print(f"({len(rows)} of {total} on {day.isoformat()})")


def _outline(record: dict[str, Any], indent: str = "") -> list[str]:
    """A nested record as indented `key: value` lines, lists item by item."""
    lines: list[str] = []
    for key, value in record.items():
        if isinstance(value, dict):
            lines.append(f"{indent}{key}:")
            lines += _outline(value, indent + "  ")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            lines.append(f"{indent}{key}:")
            for number, item in enumerate(value, 1):
                lines.append(f"{indent}  [{number}]")
                lines += _outline(item, indent + "    ")
        elif isinstance(value, list):
            lines.append(f"{indent}{key}: {', '.join(map(str, value)) or '-'}")
        else:
            lines.append(f"{indent}{key}: {'-' if value is None else value}")
    return lines
