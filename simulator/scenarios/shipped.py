"""The scenarios that ship with the package (simulator/scenarios/shipped/*.yaml).

Kept inside the package so that an installed wheel finds them exactly as a source checkout
does, without a build-time copy.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

from simulator.scenarios.loader import Operations, load_scenario
from simulator.scenarios.model import Scenario

_FOLDER = "shipped"


def shipped_files() -> dict[str, Traversable]:
    """Shipped scenario name -> its file, sorted by name."""
    folder = resources.files("simulator.scenarios").joinpath(_FOLDER)
    files = {
        entry.name.removesuffix(".yaml"): entry
        for entry in folder.iterdir()
        if entry.name.endswith(".yaml")
    }
    return dict(sorted(files.items()))


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
