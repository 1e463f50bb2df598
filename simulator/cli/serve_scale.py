"""`serve --store` and `serve --workers`: where the state lives and how many processes serve.

SQLite (the default, in the data dir) serves one process; several processes need a store
they can share, PostgreSQL: `--workers 2` without `--store postgresql://...` is refused.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from simulator.clock import Clock
from simulator.config import Settings
from simulator.store.backends import SQLITE_FILE, STORE_ENV, StoreUrlError, check_url, shown_url

if TYPE_CHECKING:
    from simulator.runtime import Simulator

MAX_WORKERS = 64


class StoreUnavailable(RuntimeError):
    pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        default=os.environ.get(STORE_ENV) or None,
        metavar="URL",
        help="keep the state (journal, records, sequences, clock, scenario) in PostgreSQL, "
        "e.g. postgresql://sim@localhost/sim: several processes or hosts then share one "
        f"world (default: ${STORE_ENV}, else SQLite in the data dir, one process)",
    )
    parser.add_argument(
        "--workers",
        type=_workers,
        default=1,
        metavar="N",
        help="serve with N processes on one port (needs --store postgresql://...; "
        "/__admin/health names the answering worker's pid) (default 1)",
    )


def options_problem(store: str | None, workers: int) -> str | None:
    try:
        check_url(store)
    except StoreUrlError as error:
        return str(error)
    if workers > 1 and store is None:
        return (
            f"--workers {workers} needs a store every process shares: add --store "
            f"postgresql://... (SQLite serves one process; ${STORE_ENV} works too)"
        )
    return None


def start_world(settings: Settings, clock: Clock) -> None:
    """On PostgreSQL: migrate, make the keys and publish this serve's clock and scenario
    before any worker starts (StoreUnavailable, ScenarioError). Nothing on SQLite."""
    if settings.store_url is None:
        return
    from simulator.cli import shared_world

    try:
        shared_world.start_world(settings, clock)
    except shared_world.StoreUnavailable as error:
        raise StoreUnavailable(str(error)) from None


def store_line(sim: Simulator, worker_count: int) -> str:
    """The banner's store line: which store, how many processes."""
    url = sim.settings.store_url
    if url is None:
        return f"sqlite {(sim.settings.data_dir / SQLITE_FILE).resolve()}  (one process)"
    processes = f"{worker_count} worker{'s' if worker_count != 1 else ''}"
    return f"postgresql {shown_url(url)}  ({processes}; clock and scenario shared)"


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes") from None
    if not 1 <= value <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"{text!r}: give 1 to {MAX_WORKERS} workers")
    return value
