"""Options every sub-command shares, so that tools and the server read the same state."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from simulator.config import DEFAULT_DATA_DIR


def add_data_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help=f"state directory: PKI, store, keystores (default {DEFAULT_DATA_DIR})",
    )


class UsageError(Exception):
    """Bad input from the command line: printed as one `error: ...` line, exit code 2."""


def add_command_group(
    commands: Any, name: str, *, help: str, description: str, epilog: str
) -> tuple[argparse.ArgumentParser, Any]:
    """A command with sub-commands (`certs provider`, ...); alone, it prints its help (exit 2).

    Returns the command's parser and the sub-parsers to add its sub-commands to.
    """
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=lambda _args: _print_help(parser))
    return parser, parser.add_subparsers(dest=f"{name}_command", metavar="SUBCOMMAND")


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2
