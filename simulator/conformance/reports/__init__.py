"""Reports of a conformance run: JUnit XML for CI, JSON for tools, HTML for people."""

from __future__ import annotations

from pathlib import Path

from simulator.conformance.reports.html import write_html
from simulator.conformance.reports.json_report import write_json
from simulator.conformance.reports.junit import write_junit
from simulator.conformance.results import RunResult

__all__ = ["write_all", "write_html", "write_json", "write_junit"]


def write_all(result: RunResult, folder: Path) -> dict[str, Path]:
    """junit.xml, report.json and report.html in `folder`; returns the paths by kind."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "junit": folder / "junit.xml",
        "json": folder / "report.json",
        "html": folder / "report.html",
    }
    write_junit(result, paths["junit"])
    write_json(result, paths["json"])
    write_html(result, paths["html"])
    return paths
