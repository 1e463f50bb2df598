"""`mycarenet-sim scenario check | list`, run in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.cli.main import main


def test_check_a_good_file_prints_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(
        "name: suite\nrules:\n  - id: a\n    match: {service: eattest, nth: 1}\n"
        "    action: {type: reject, code: '196'}\n"
        "latency: {default: {model: fixed, ms: 10}}\n"
    )
    assert main(["scenario", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{path}: ok" in out and "1 rule (1 reject)" in out and "fixed" in out


def test_check_reports_file_and_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\nrules:\n  - id: a\n    match: {service: eattest, operation: GetEtk}\n"
        "    action: {type: reject, code: '196'}\n"
        "  - id: b\n    match: {service: eattest}\n    action: {type: reject, code: '9999'}\n"
    )
    assert main(["scenario", "check", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"{path}:4: `operation`: 'GetEtk' is not an operation of eattest",
        f"{path}:8: code '9999' is not in the eattest error catalogue",
    ]
    assert "ok" not in captured.out


def test_check_a_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenario", "check", "/nonexistent/x.yaml"]) == 2
    assert capsys.readouterr().err.startswith("/nonexistent/x.yaml:1: cannot read the file")


def test_check_shipped_by_name_and_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenario", "check", "chaos", "eattest-rejections"]) == 0
    out = capsys.readouterr().out
    assert "chaos: ok" in out and "eattest-rejections: ok" in out
    assert main(["scenario", "list"]) == 0
    listing = capsys.readouterr().out
    for name in (
        "default",
        "chaos",
        "eattest-rejections",
        "efact-rejections",
        "mediprima-transition",
    ):
        assert name in listing
