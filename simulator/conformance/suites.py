"""The suites that ship with the simulator: `scenarios/suites/*.yaml` (in the wheel:
`simulator/_scenarios/suites`), found the way the shipped scenarios are."""

from __future__ import annotations

from pathlib import Path

from simulator.conformance.loader import load_suite_file
from simulator.conformance.model import Suite
from simulator.scenarios.shipped import shipped_dir


def suites_dir() -> Path:
    return shipped_dir() / "suites"


def shipped_suites() -> dict[str, Path]:
    """Suite id (the file name) -> file, sorted."""
    return {path.stem: path for path in sorted(suites_dir().glob("*.yaml"))}


def load_suite_named(spec: str) -> Suite:
    """A suite file by path, else the shipped suite of that name (KeyError names them)."""
    path = Path(spec)
    if path.is_file():
        return load_suite_file(path)
    files = shipped_suites()
    if spec not in files:
        raise KeyError(f"no suite {spec!r}; shipped: {', '.join(files)} (or give a file path)")
    return load_suite_file(files[spec])


def load_all() -> list[Suite]:
    return [load_suite_file(path) for path in shipped_suites().values()]
