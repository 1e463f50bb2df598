"""The identifiers in the commands' --help examples are people `world show` finds in the
default population, so that a user who copies an example gets an answer, not "nobody"."""

from __future__ import annotations

import re

import pytest

from simulator.cli import certs, conformance, efact, main, world
from simulator.cli.main import main as cli_main
from simulator.domain.identifiers import is_valid_nihii

ELEVEN_DIGITS = re.compile(r"(?<![\d])\d{11}(?![\d])")
# Walk-ins on purpose: a provider the insurer does not know (certs: "any valid NIHII works").
WALK_INS = {"40123455001"}


@pytest.mark.parametrize("module", [main, certs, world, efact, conformance])
def test_every_identifier_in_an_example_is_found_by_world_show(
    module: object, capsys: pytest.CaptureFixture[str]
) -> None:
    epilog = str(getattr(module, "EPILOG", ""))
    found = set(ELEVEN_DIGITS.findall(epilog))
    for identifier in sorted(found - WALK_INS):
        assert cli_main(["world", "show", identifier]) == 0, identifier
        assert identifier in capsys.readouterr().out
    assert all(is_valid_nihii(nihii) for nihii in found & WALK_INS)
