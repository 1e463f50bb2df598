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


NINE_MISTAKES = """\
name: nine-mistakes
rules:
  - id: a
    match: {service: etarr, operation: Nope, nth: 0, colour: red}
    action: {type: rejectt}
  - id: "b c"
    match: {provider_nihii: "123", patient_ssin: "1"}
    action: {type: delay, seconds: -1}
    limit: {times: x}
  - id: d
    action: {type: reject}
"""


def test_check_lists_every_problem_of_a_file_in_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Several mistakes in one rule, and in several rules: all reported at once."""
    path = tmp_path / "nine.yaml"
    path.write_text(NINE_MISTAKES)
    assert main(["scenario", "check", str(path)]) == 2
    lines = capsys.readouterr().err.splitlines()
    expected = [
        (4, "unknown key 'colour' in `match`"),
        (4, "unknown service 'etarr'"),
        (4, "'Nope' is not an operation"),
        (4, "`nth` must be >= 1, got 0"),
        (5, "unknown action type 'rejectt'"),
        (6, "`id` 'b c' must be"),
        (7, "'123' is not a valid NIHII"),
        (7, "'1' is not a valid NISS"),
        (8, "`seconds` must be at least 0"),
        (9, "unknown key 'times' in `limit`"),
        (11, "a `reject` action has no `code`"),
    ]
    assert len(lines) == len(expected), lines
    for line, (number, says) in zip(lines, expected, strict=True):
        assert line.startswith(f"{path}:{number}: ") and says in line, line


def test_check_and_list_speak_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    path = tmp_path / "nine.yaml"
    path.write_text(NINE_MISTAKES)
    assert main(["scenario", "check", str(path), "default", "--json"]) == 2
    bad, good = json.loads(capsys.readouterr().out)
    assert bad["ok"] is False and len(bad["problems"]) == 11
    assert good == {"file": "default", "ok": True, "scenario": "default", "rules": 0,
                    "summary": good["summary"]}  # fmt: skip
    assert main(["scenario", "list", "--json"]) == 0
    names = {item["name"] for item in json.loads(capsys.readouterr().out)}
    assert {"default", "chaos", "eattest-rejections"} <= names
