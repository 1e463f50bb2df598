"""A real simulator on a real socket, run in a background thread for the tests."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from simulator.config import Settings
from simulator.server.background import BackgroundServer

ServerThread = BackgroundServer


def start_server(data_dir: Path, **overrides: object) -> BackgroundServer:
    """A small, undelayed simulator on a free port; `overrides` replace its settings."""
    defaults = Settings(data_dir=data_dir, port=0, patients=600, providers=80, no_delay=True)
    settings = replace(defaults, **overrides)  # type: ignore[arg-type]
    return BackgroundServer(settings).start()
