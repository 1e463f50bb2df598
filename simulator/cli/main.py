"""`mycarenet-sim`: one entry point, a sub-command per job."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from simulator import __version__
from simulator.cli import certs, conformance, efact, example, load, scenario, serve, world

EPILOG = """\
examples:
  mycarenet-sim serve                      start with the embedded defaults on 127.0.0.1:8080
  mycarenet-sim certs provider --nihii 10394044003 --ssin 62040858223 \\
      --out doctor.p12 --password test     a keystore for a care provider
  mycarenet-sim certs show                 what the test PKI holds
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mycarenet-sim",
        description="A local stand-in for the insurer side of MyCareNet.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve.register(commands)
    certs.register(commands)
    world.register(commands)
    scenario.register(commands)
    efact.register(commands)
    conformance.register(commands)
    example.register(commands)
    load.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
