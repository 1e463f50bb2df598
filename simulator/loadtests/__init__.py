"""Locust load suites for the simulator, installed with the package (`pip install '.[load]'`).

    mycarenet-sim load efact|sync|mediprima --url http://127.0.0.1:8080 --users 10 \
        --spawn-rate 2 --duration 60s [--workers 2]

or `locust -f <this directory>/locustfile_efact.py --host ...`. Users get their keystores
and the business date from the simulator's admin API; see each locustfile for what it does
and summary.py for the figures printed at the end.
"""

from __future__ import annotations

from pathlib import Path

SUITES = ("efact", "sync", "mediprima")


def locustfile(suite: str) -> Path:
    """The locustfile of `suite` (one of SUITES)."""
    if suite not in SUITES:
        raise ValueError(f"unknown load suite {suite!r}: {', '.join(SUITES)}")
    return Path(__file__).with_name(f"locustfile_{suite}.py")
