"""Interop tests against genuine third-party stacks; their step lines end the test summary."""

from __future__ import annotations

import pytest

from tests.interop.report import REPORTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print what each interop client did, whatever -r says and whether it passed or not."""
    for title, lines in REPORTS:
        terminalreporter.section(title)
        for line in lines:
            terminalreporter.write_line(line)
