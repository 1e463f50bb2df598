"""Options every sub-command shares, so that tools and the server read the same state."""

from __future__ import annotations

import argparse
from pathlib import Path

from simulator.config import DEFAULT_DATA_DIR


def add_data_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help=f"state directory: PKI, store, keystores (default {DEFAULT_DATA_DIR})",
    )
