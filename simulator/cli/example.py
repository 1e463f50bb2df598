"""`mycarenet-sim example`: the example vendor clients installed with the package.

They are what `conformance run` calls once per case; README's CI snippets use these commands so
that they work after a plain `pip install`.
"""

from __future__ import annotations

import argparse
from typing import Any

from simulator.cli.options import add_command_group

EPILOG = """\
examples:
  mycarenet-sim conformance run --all -- mycarenet-sim example reference-client
  mycarenet-sim conformance run --suite eattest -- mycarenet-sim example broken-client \\
      resend-refused
  mycarenet-sim example list                  the broken client's faults and their cases
"""


def register(commands: Any) -> None:
    _, sub = add_command_group(
        commands,
        "example",
        help="the example vendor clients (reference and broken) for conformance runs",
        description="Run an example vendor client; conformance runs call it once per case.",
        epilog=EPILOG,
    )
    reference = sub.add_parser(
        "reference-client",
        help="a conforming client: passes every shipped case",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    reference.set_defaults(handler=_reference)
    broken = sub.add_parser(
        "broken-client",
        help="the reference client with one fault switched on",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    broken.add_argument("fault", help="which rule to break (see `mycarenet-sim example list`)")
    broken.set_defaults(handler=_broken)
    listing = sub.add_parser("list", help="the faults of the broken client")
    listing.set_defaults(handler=_list)


def _reference(_args: argparse.Namespace) -> int:
    from simulator.examples.reference_client import main

    return main()


def _broken(args: argparse.Namespace) -> int:
    from simulator.examples.broken_client import run_fault

    return run_fault(args.fault)


def _list(_args: argparse.Namespace) -> int:
    from simulator.examples.broken_client import describe_faults

    print(f"faults of `mycarenet-sim example broken-client FAULT`:\n{describe_faults()}")
    return 0
