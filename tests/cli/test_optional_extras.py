"""`pip install mycarenet-sim` alone (no [postgres], no [load]) must run the simulator and the
conformance harness: psycopg and locust are imported only where they are used."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

WITHOUT_EXTRAS = """
import sys
sys.modules["psycopg"] = None  # as if not installed: `import psycopg` raises ImportError
sys.modules["locust"] = None
from simulator.cli.main import main
from simulator.config import Settings
from simulator.runtime import Simulator
from simulator.server.app import create_app
sim = Simulator.create(Settings(data_dir=__import__("pathlib").Path(sys.argv[1]), patients=50,
                                providers=10))
create_app(sim)
sim.close()
sys.exit(main(["conformance", "list"]))
"""


def test_the_simulator_and_the_harness_run_without_the_optional_extras(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRAS, str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "etar:" in done.stdout
