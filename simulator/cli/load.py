"""`mycarenet-sim load`: run a locust load suite headless, in one process or distributed.

With --workers N it starts a locust master and N worker processes on this machine (each
worker is one more core for the load generator), waits for the master and returns its exit
code (0: no failure). The suites live in simulator.loadtests (installed with [load]).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from simulator.client.admin_api import AdminApi, AdminApiError
from simulator.loadtests import SUITES, locustfile

DEFAULT_DRAIN_S = 60
EPILOG = """\
examples:
  MYCARENET_EFACT_DELAYS=0,0,0 mycarenet-sim serve --no-delay &
  mycarenet-sim load efact --url http://127.0.0.1:8080 --users 20 --spawn-rate 5 \\
      --duration 60s --workers 2
  mycarenet-sim load sync --url http://127.0.0.1:8080 --users 10 --duration 30s
  mycarenet-sim load mediprima --url http://127.0.0.1:8080 --users 5 --duration 30s \\
      --locust="--csv results"      (more options for locust, as they are)

The summary at the end gives files/s, records/s, the time from a post to its 920098 /
920099 / 920900 (p50/p95/p99), requests/s and errors; --summary-json writes it as JSON.
The efact suite moves the simulator's business clock (a fresh day per run, one more day each
time the users have billed every insurer for the day): one eFact file a day per insurer.
"""


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "load",
        help="run a locust load suite (efact, sync, mediprima) against a simulator",
        description="Run a load suite headless with locust; needs the [load] extra.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("suite", choices=SUITES, help="which suite")
    parser.add_argument("--url", required=True, help="the simulator, e.g. http://127.0.0.1:8080")
    parser.add_argument("--users", type=_positive, default=10, help="simulated users (10)")
    parser.add_argument("--spawn-rate", type=float, default=5.0, help="users started per second")
    parser.add_argument("--duration", default="60s", help="run time, e.g. 30s, 5m (60s)")
    parser.add_argument(
        "--workers", type=_positive, default=None, help="locust worker processes (distributed)"
    )
    parser.add_argument(
        "--invoices", type=_positive, default=None, help="efact: invoices per file (100)"
    )
    parser.add_argument(
        "--drain",
        type=_positive,
        default=DEFAULT_DRAIN_S,
        help=f"efact: seconds to keep collecting answers after the run ({DEFAULT_DRAIN_S})",
    )
    parser.add_argument(
        "--wait",
        default=None,
        metavar="MIN,MAX",
        help="seconds a user waits between two tasks (0.5,2)",
    )
    parser.add_argument("--summary-json", type=Path, help="also write the summary there")
    parser.add_argument(
        "--admin-token", help="the admin token of a simulator bound beyond loopback"
    )
    parser.add_argument(
        "--locust",
        default="",
        metavar="OPTIONS",
        help='more locust options, as one string: --locust="--csv results --only-summary"',
    )
    parser.set_defaults(handler=run)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def run(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("locust") is None:
        print("error: locust is not installed: pip install 'mycarenet-sim[load]'", file=sys.stderr)
        return 2
    problem = _unreachable(args.url, args.admin_token)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    environment = _environment(args)
    extra = shlex.split(args.locust)
    common = ["-f", str(locustfile(args.suite))]
    headless = [
        "--host", args.url, "--headless", "--users", str(args.users),
        "--spawn-rate", str(args.spawn_rate), "--run-time", args.duration,
        "--stop-timeout", str(args.drain + 15),
    ]  # fmt: skip
    locust = [sys.executable, "-m", "locust"]
    if args.workers is None:
        return subprocess.call([*locust, *common, *headless, *extra], env=environment)
    port = str(_free_port())
    as_master = ["--master", "--expect-workers", str(args.workers)]
    as_master += ["--master-bind-host", "127.0.0.1", "--master-bind-port", port]
    as_worker = ["--worker", "--master-host", "127.0.0.1", "--master-port", port]
    master = subprocess.Popen([*locust, *common, *headless, *extra, *as_master], env=environment)
    workers = [
        subprocess.Popen([*locust, *common, *as_worker], env=environment)
        for _ in range(args.workers)
    ]
    try:
        code = master.wait()
    finally:
        _stop(master, grace=30)
        # Once the master is done, the workers have reported everything; they would wait
        # --stop-timeout before noticing the master is gone.
        for process in workers:
            _stop(process, grace=3)
    return code


def _unreachable(url: str, token: str | None) -> str | None:
    """Why the simulator's admin API cannot be used at `url`; None when it answers."""
    try:
        AdminApi(url, token, timeout=10).clock()
    except ValueError as error:
        return str(error)
    except AdminApiError as error:
        return f"the simulator at {url} refused the admin call: {error}"
    except OSError as error:
        return f"cannot reach the simulator at {url}: {error}"
    return None


def _environment(args: argparse.Namespace) -> dict[str, str]:
    environment = {**os.environ, "MYCARENET_LOAD_DRAIN_S": str(args.drain)}
    if args.wait is not None:
        environment["MYCARENET_LOAD_WAIT"] = args.wait
    if args.invoices is not None:
        environment["MYCARENET_LOAD_INVOICES"] = str(args.invoices)
    if args.summary_json is not None:
        environment["MYCARENET_LOAD_SUMMARY"] = str(args.summary_json.resolve())
    if args.admin_token:
        environment["MYCARENET_ADMIN_TOKEN"] = args.admin_token
    return environment


def _stop(process: subprocess.Popen[bytes], *, grace: float) -> None:
    """Let a process end on its own within `grace` seconds, else stop it."""
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
