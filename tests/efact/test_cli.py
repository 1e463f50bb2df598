"""`mycarenet-sim efact generate | check`, run in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.cli.efact import UsageError, parse_rate
from simulator.cli.main import main

WORLD = ["--seed", "7", "--patients", "200", "--providers", "30", "--date", "2026-11-23"]


def test_generate_then_check_lists_every_fault(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "invoices.920000"
    assert main(["efact", "generate", "--invoices", "200", "--errors", "2%", "--out", str(out),
                 *WORLD]) == 0
    assert "200 invoices, 4 faulty" in capsys.readouterr().out
    assert main(["efact", "check", str(out), *WORLD]) == 1
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1].endswith("rejection(s) on 4 record(s)")
    assert all(line.startswith("record ") for line in printed[:-1])


def test_clean_file_checks_with_exit_code_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "clean"
    assert main(["efact", "generate", "--invoices", "30", "--out", str(out), *WORLD]) == 0
    assert main(["efact", "check", str(out), *WORLD]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith("0 rejection(s) on 0 record(s)")


def test_cin_file_needs_the_plus_10_variant(
    shared_reference: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = shared_reference / "samples" / "efact" / "TFAC1SC09.509E"
    argv = ["efact", "check", str(path), "--date", "2014-11-25", "--no-world"]
    assert main(argv) == 0
    assert main([*argv, "--strict-checksum"]) == 1
    assert "B109902" in capsys.readouterr().out


def test_bad_input_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["efact", "generate", "--invoices", "x", "--out", str(tmp_path / "f")]) == 2
    assert "error: --invoices must be a whole number, got 'x'" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.write_bytes(b"920000")
    assert main(["efact", "check", str(broken), "--no-world"]) == 2
    assert "error: at byte 0: file ends inside segment 200" in capsys.readouterr().err


def test_parse_rate() -> None:
    assert parse_rate("2%") == pytest.approx(0.02)
    assert parse_rate("0.5") == 0.5
    with pytest.raises(UsageError, match="between 0% and 100%"):
        parse_rate("150%")
    with pytest.raises(UsageError, match=r"like 2% or 0\.02"):
        parse_rate("lots")
