"""`mycarenet-sim serve`: start the simulator with its embedded defaults."""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

from simulator.cli.options import add_data_dir_argument
from simulator.config import DEFAULT_PORT, DEFAULT_SCENARIO, DEFAULT_SEED, SecurityMode, Settings
from simulator.runtime import Simulator
from simulator.scenarios import ScenarioError
from simulator.server import auth
from simulator.server.app import create_app, server_ssl_context

EPILOG = """\
examples:
  mycarenet-sim serve
  mycarenet-sim serve --port 9443 --tls --data-dir /tmp/sim
  mycarenet-sim serve --security lenient --xsd-dir ./ehealth-xsd   full validation, lax signatures
  mycarenet-sim serve --scenario chaos --seed 7     faults at low rates, replayable
  mycarenet-sim serve --no-delay                    no latency model (fast CI)
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
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="population seed")
    parser.add_argument(
        "--security",
        choices=[m.value for m in SecurityMode],
        default=SecurityMode.STRICT.value,
        help="WS-Security verification mode (default strict)",
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
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.xsd_dir is not None and not args.xsd_dir.is_dir():
        print(f"error: --xsd-dir {args.xsd_dir} is not a directory")
        return 2
    settings = Settings(
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        tls=args.tls,
        seed=args.seed,
        security_mode=SecurityMode(args.security),
        xsd_dir=args.xsd_dir,
        scenario=args.scenario,
        no_delay=args.no_delay,
        admin_token=args.admin_token,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        sim = Simulator.create(settings)
    except ScenarioError as error:
        for line in error.lines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    app = create_app(sim)
    # The population, keys and schemas live as long as the process: move them out of the
    # collector's generations so that the collections requests trigger stay short.
    gc.collect()
    gc.freeze()
    print(banner(sim), flush=True)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        ssl_context=server_ssl_context(sim) if settings.tls else None,
        print=None,
        access_log=None,
    )
    return 0


def banner(sim: Simulator) -> str:
    base = sim.settings.base_url
    rows = [(op.service, op.name, f"{base}{op.path}") for op in sim.registry.operations()]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [
        f"mycarenet-sim listening on {base}",
        f"  data dir        {sim.settings.data_dir.resolve()}",
        f"  CA certificate  {sim.pki.ca_cert_path.resolve()}  (trust it for TLS and signatures)",
        f"  security        {sim.security_mode}",
        f"  scenario        {sim.scenarios.scenario.name}"
        + ("  (--no-delay: latencies off)" if sim.settings.no_delay else ""),
        f"  population      seed {sim.settings.seed}: {len(sim.population.patients)} patients, "
        f"{len(sim.population.providers)} providers",
        "",
        "  endpoints:",
    ]
    lines += [f"    {s:<{widths[0]}}  {n:<{widths[1]}}  {url}" for s, n, url in rows]
    admin = "  ".join(f"{base}/__admin/{page}" for page in ("health", "journal", "population"))
    lines += ["", f"  admin: {admin}"]
    lines += [f"  admin API: {base}/__admin/openapi.json   metrics: {base}/metrics"]
    if auth.token_required(sim):
        # A token the user chose is theirs to know; only a generated one is shown.
        shown = "the --admin-token value" if sim.settings.admin_token else auth.admin_token(sim)
        lines += [f"  admin token: {shown}  (send Authorization: Bearer <token>)"]
    return "\n".join(lines)
