"""The scenarios that ship with the simulator: `scenarios/*.yaml` at the top of the source
tree, installed inside the wheel as `simulator/_scenarios` (pyproject's force-include).
"""

from __future__ import annotations

from pathlib import Path

import simulator
from simulator.scenarios.loader import Operations, load_scenario, load_scenario_file
from simulator.scenarios.model import Scenario

_FOLDER = "scenarios"


def shipped_dir() -> Path:
    """`scenarios/` of a source checkout, else the copy installed in the wheel."""
    package = Path(simulator.__file__).resolve().parent
    installed = package / "_scenarios"
    return installed if installed.is_dir() else package.parent / _FOLDER


def shipped_files() -> dict[str, Path]:
    """Shipped scenario name -> its file, sorted by name."""
    return {path.stem: path for path in sorted(shipped_dir().glob("*.yaml"))}


def load_shipped(name: str, *, operations: Operations | None = None) -> Scenario:
    """The shipped scenario `name` (e.g. "default"); KeyError names the ones that exist."""
    files = shipped_files()
    if name not in files:
        raise KeyError(f"no shipped scenario {name!r}; shipped: {', '.join(files)}")
    return load_scenario(
        files[name].read_text(encoding="utf-8"),
        source=f"{_FOLDER}/{name}.yaml",
        default_name=name,
        operations=operations,
    )


def load_named(spec: str, *, operations: Operations | None = None) -> Scenario:
    """A scenario file by path, else (no such file) the shipped scenario of that name.

    Raises ScenarioError, with the file's problems by line, when it cannot be used.
    """
    path = Path(spec)
    if not path.exists() and spec in shipped_files():
        return load_shipped(spec, operations=operations)
    return load_scenario_file(path, operations=operations)
