"""`mycarenet-sim serve`: start the simulator with its embedded defaults."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import secrets
import socket
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from simulator.cli import serve_scale as scale
from simulator.cli import workers
from simulator.cli.data_lock import DataDirBusy
from simulator.cli.data_lock import hold as data_lock_of
from simulator.cli.options import add_data_dir_argument
from simulator.clock import BRUSSELS, Clock
from simulator.config import (
    DEFAULT_JOURNAL_BODIES,
    DEFAULT_JOURNAL_MAX_AGE_S,
    DEFAULT_JOURNAL_MAX_ROWS,
    DEFAULT_PORT,
    DEFAULT_READ_TIMEOUT_S,
    DEFAULT_SCENARIO,
    DEFAULT_SEED,
    TEST_CA,
    ResponseSecurity,
    SecurityMode,
    Settings,
)
from simulator.runtime import Simulator
from simulator.scenarios import ScenarioError
from simulator.server import auth, transport
from simulator.server.app import create_app, server_ssl_context

EPILOG = """\
examples:
  mycarenet-sim serve
  mycarenet-sim serve --port 9443 --tls --data-dir /tmp/sim
  mycarenet-sim serve --security lenient --xsd-dir ./ehealth-xsd   full validation, lax signatures
  mycarenet-sim serve --scenario chaos --seed 7     faults at low rates, replayable
  mycarenet-sim serve --no-delay                    no latency model (fast CI)
  mycarenet-sim serve --date 2025-10-15             business date 15 Oct 2025 (the world too)
  mycarenet-sim serve --tls --tls-client-ca         mTLS: clients show a keystore's certificate
  mycarenet-sim serve --tls --tls-client-ca ca.pem  mTLS against your own CA
  mycarenet-sim serve --response-security timestamp-only   answers eHI (.NET) can read
  mycarenet-sim serve --store postgresql://sim@localhost/sim --workers 4   4 processes, one world
"""


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "serve",
        help="start the simulator",
        description="Start the simulated insurer (eHealth STS, ETK depot, MyCareNet services).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default 8080)")
    add_data_dir_argument(parser)
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with the test PKI's cert")
    parser.add_argument(
        "--tls-client-ca",
        nargs="?",
        const=TEST_CA,
        type=_client_ca,
        default=None,
        metavar="PATH",
        help="mTLS (needs --tls): require a client certificate issued by the CA in PATH (PEM); "
        f"without PATH (or `{TEST_CA}`), by the simulator's test CA, which issues the provider "
        "keystores",
    )
    parser.add_argument(
        "--read-timeout",
        type=_seconds,
        default=DEFAULT_READ_TIMEOUT_S,
        metavar="SECONDS",
        help="time a client has to send a request's headers (after connecting or after the "
        "previous answer: idle keep-alive connections close then) and then its body "
        f"(default {DEFAULT_READ_TIMEOUT_S:g})",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="population seed")
    parser.add_argument(
        "--date",
        type=_business_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="start on this business date (the clock runs on from it, the world is the one of "
        "that day; default: today). Signatures keep the real time",
    )
    parser.add_argument(
        "--security",
        choices=[m.value for m in SecurityMode],
        default=SecurityMode.STRICT.value,
        help="WS-Security verification mode (default strict)",
    )
    parser.add_argument(
        "--response-security",
        choices=[p.value for p in ResponseSecurity],
        default=ResponseSecurity.FULL.value,
        help="answers' wsse:Security: full (Timestamp, token, signature; requests from eHI's "
        "library-core still get a Timestamp only) or timestamp-only for every answer "
        "(default full)",
    )
    parser.add_argument(
        "--sts-response",
        choices=["rstr", "rstrc"],
        default="rstr",
        help="body of the STS token answer: rstr (wst:RequestSecurityTokenResponse, what eHI "
        "and e-Contract parse; the eHealth connector reads either) or rstrc "
        "(...ResponseCollection) (default rstr)",
    )
    parser.add_argument(
        "--xsd-dir",
        type=Path,
        default=None,
        help="official eHealth XSD bundle for full validation (laid out like the connector's)",
    )
    parser.add_argument(
        "--scenario",
        default=DEFAULT_SCENARIO,
        help="a shipped scenario's name or a scenario file (default: default); "
        "see `mycarenet-sim scenario list`",
    )
    parser.add_argument(
        "--no-delay",
        action="store_true",
        help="answer at once: the scenario's latency models are ignored (delay rules still act)",
    )
    parser.add_argument(
        "--admin-token",
        default=None,
        help="token the admin API requires from callers not on loopback "
        "(default: one is generated and printed when --host is not a loopback address)",
    )
    parser.add_argument(
        "--journal-bodies",
        choices=["none", "errors", "all"],
        default=DEFAULT_JOURNAL_BODIES,
        help="which journal rows keep their request and response (compressed, passwords "
        "masked): none, errors (business errors and faults) or all "
        f"(default {DEFAULT_JOURNAL_BODIES}; conformance evaluation reads them)",
    )
    parser.add_argument(
        "--journal-max-rows",
        type=_journal_rows,
        default=DEFAULT_JOURNAL_MAX_ROWS,
        metavar="N",
        help="keep the newest N journal rows, 0 for no limit "
        f"(default {DEFAULT_JOURNAL_MAX_ROWS:,}, ~1.3 GB with bodies)",
    )
    parser.add_argument(
        "--journal-max-age",
        type=_journal_age,
        default=DEFAULT_JOURNAL_MAX_AGE_S,
        metavar="AGE",
        help="drop journal rows older than AGE: seconds or 30m, 12h, 7d; 0 for no limit "
        "(default 7d)",
    )
    scale.add_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.xsd_dir is not None and not args.xsd_dir.is_dir():
        print(f"error: --xsd-dir {args.xsd_dir} is not a directory")
        return 2
    problem = _client_ca_problem(args.tls_client_ca, args.tls)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if not 0 <= args.port <= 65535:
        print(f"error: --port must be from 0 to 65535, got {args.port}", file=sys.stderr)
        return 2
    problem = scale.options_problem(args.store, args.workers)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        if args.workers > 1:
            sockets = workers.listening_sockets(args.host, args.port, args.workers)
        else:
            sockets = [_listening_socket(args.host, args.port)]
    except OSError as error:
        print(f"error: cannot listen on {args.host}:{args.port}: {error.strerror or error}",
              file=sys.stderr)  # fmt: skip
        return 2
    listening = sockets[0]
    try:
        # One process per SQLite data dir (the lock lives as long as this process).
        data_lock = None if args.store else data_lock_of(args.data_dir)
    except DataDirBusy as error:
        for held in sockets:
            held.close()
        print(f"error: {error}", file=sys.stderr)
        return 2
    settings = Settings(
        data_dir=args.data_dir,
        host=args.host,
        # --workers N --port 0: the port the system gave (the workers' sockets share it)
        port=listening.getsockname()[1] if args.workers > 1 else args.port,
        tls=args.tls,
        seed=args.seed,
        security_mode=SecurityMode(args.security),
        response_security=ResponseSecurity(args.response_security),
        sts_response=args.sts_response,
        xsd_dir=args.xsd_dir,
        scenario=args.scenario,
        no_delay=args.no_delay,
        admin_token=args.admin_token,
        journal_bodies=args.journal_bodies,
        journal_max_rows=args.journal_max_rows,
        journal_max_age_s=args.journal_max_age,
        read_timeout=args.read_timeout,
        tls_client_ca=args.tls_client_ca,
        store_url=args.store,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    clock = Clock()
    if args.date is not None:
        # Same time of day, another day: the business clock runs on from there.
        now = clock.now().astimezone(BRUSSELS)
        clock.set(datetime.combine(args.date, now.time().replace(tzinfo=None), BRUSSELS))
    try:
        scale.start_world(settings, clock)  # PostgreSQL: this serve's clock and scenario
    except (ScenarioError, scale.StoreUnavailable) as error:
        for held in sockets:
            held.close()
        lines = error.lines() if isinstance(error, ScenarioError) else [str(error)]
        for line in lines:
            print(f"error: {line}", file=sys.stderr)
        return 2
    if args.workers > 1:
        # Every worker gets the same generated admin token (and one banner, from worker 0).
        token = secrets.token_urlsafe(32)
        return workers.run(
            sockets,
            lambda index, sock, starts: _serve(
                settings, clock, sock, index, args.workers, token, announce=starts == 0
            ),
        )
    status = _serve(settings, clock, listening, 0, 1, None, announce=True)
    del data_lock
    return status


def _serve(
    settings: Settings,
    clock: Clock,
    listening: socket.socket,
    index: int,
    worker_count: int,
    token: str | None,
    *,
    announce: bool,
) -> int:
    """Build the simulator and serve on `listening` until stopped (one worker's life)."""
    try:
        sim = Simulator.create(settings, clock)
    except ScenarioError as error:
        listening.close()
        for line in error.lines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    if token is not None:
        sim.generated_admin_token = token
    app = create_app(sim)
    # The population, keys and schemas live as long as the process: move them out of the
    # collector's generations so that the collections requests trigger stay short.
    gc.collect()
    gc.freeze()
    if index == 0 and announce:  # once, not again when the supervisor restarts worker 0
        print(banner(sim, worker_count), flush=True)
    web.run_app(
        app,
        sock=listening,
        ssl_context=server_ssl_context(sim) if settings.tls else None,
        print=None,
        access_log=None,
        **transport.runner_options(settings),
    )
    return 0


def _listening_socket(host: str, port: int) -> socket.socket:
    """Bind before anything is printed: a port in use is one error line, not a banner
    followed by a traceback."""
    family, kind, protocol, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    listening = socket.socket(family, kind, protocol)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(address)
        listening.listen(socket.SOMAXCONN)
    except OSError:
        listening.close()
        raise
    return listening


def _business_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive number of seconds")
    return value


def _journal_rows(text: str) -> int | None:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of rows") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give 0 (no limit) or a positive number")
    return value or None


_AGE_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def _journal_age(text: str) -> float | None:
    raw = text.strip().lower()
    unit = _AGE_UNITS.get(raw[-1:])
    number = raw[:-1] if unit is not None else raw
    try:
        value = float(number) * (unit or 1.0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an age: seconds, or a number with s, m, h or d (e.g. 7d)"
        ) from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: give 0 (no limit) or a positive age")
    return value or None


def _client_ca(text: str) -> Path | str:
    # argparse passes the bare option's const through here too.
    return TEST_CA if text == TEST_CA else Path(text)


def _client_ca_problem(client_ca: Path | str | None, tls: bool) -> str | None:
    if client_ca is None:
        return None
    if not tls:
        return "--tls-client-ca asks clients for a TLS certificate: add --tls"
    if client_ca != TEST_CA and not Path(client_ca).is_file():
        return f"--tls-client-ca {client_ca} is not a file (a PEM CA certificate)"
    return None


def banner(sim: Simulator, worker_count: int = 1) -> str:
    base = sim.settings.base_url
    rows = [(op.service, op.name, f"{base}{op.path}") for op in sim.registry.operations()]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [
        f"mycarenet-sim listening on {base}",
        f"  data dir        {sim.settings.data_dir.resolve()}",
        f"  CA certificate  {sim.pki.ca_cert_path.resolve()}  (trust it for TLS and signatures)",
        f"  security        {sim.security_mode}, answers {sim.settings.response_security}",
        f"  scenario        {sim.scenarios.scenario.name}"
        + ("  (--no-delay: latencies off)" if sim.settings.no_delay else ""),
        f"  population      seed {sim.settings.seed}: {len(sim.population.patients)} patients, "
        f"{len(sim.population.providers)} providers, business date {sim.clock.today()}",
        f"  store           {scale.store_line(sim, worker_count)}",
        "",
        "  endpoints:",
    ]
    lines += [f"    {s:<{widths[0]}}  {n:<{widths[1]}}  {url}" for s, n, url in rows]
    admin = "  ".join(f"{base}/__admin/{page}" for page in ("health", "journal", "population"))
    lines += ["", f"  admin: {admin}"]
    lines += [f"  admin API: {base}/__admin/openapi.json   metrics: {base}/metrics"]
    client_ca = sim.settings.tls_client_ca
    if client_ca is not None:
        shown_ca = sim.pki.ca_cert_path.resolve() if client_ca == TEST_CA else client_ca
        lines += [f"  mTLS: client certificates must be issued by {shown_ca}"]
    if auth.token_required(sim):
        # A token the user chose is theirs to know; only a generated one is shown.
        # Never the token itself: the banner ends up in logs. A generated one is written to a
        # file only its owner can read.
        shown = (
            "the --admin-token value"
            if sim.settings.admin_token
            else f"in {write_token_file(sim)} (readable by you only)"
        )
        lines += [f"  admin token: {shown}  (send Authorization: Bearer <token>)"]
    return "\n".join(lines)


TOKEN_FILE = "admin-token"  # noqa: S105 (a file name)


def write_token_file(sim: Simulator) -> Path:
    """The generated admin token in `<data dir>/admin-token`, mode 0600; returns its path."""
    path = (sim.settings.data_dir / TOKEN_FILE).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(auth.admin_token(sim) + "\n")
    path.chmod(0o600)  # an older file may have had looser rights
    return path
