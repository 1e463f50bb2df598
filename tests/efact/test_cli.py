"""`mycarenet-sim efact generate | check`, run in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.cli.efact import parse_rate
from simulator.cli.main import main
from simulator.cli.options import UsageError

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


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--invoices", "-5", "--invoices must be 1 or more, got -5"),
        ("--invoices", "0", "--invoices must be 1 or more, got 0"),
        ("--sending-number", "1000", "--sending-number must be from 1 to 999, got 1000"),
        ("--patients", "0", "--patients must be 1 or more, got 0"),
    ],
)
def test_a_count_out_of_range_is_refused_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, says: str
) -> None:
    out = tmp_path / "f"
    argv = ["efact", "generate", "--out", str(out), *WORLD, option, value]
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == f"error: {says}"
    assert not out.exists()


def test_a_file_over_the_genasync_limit_is_refused_unless_asked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The limit is lowered so that the test stays small; the arithmetic is the real one."""
    import simulator.cli.efact as efact_cli

    monkeypatch.setattr(efact_cli, "GENASYNC_BLOB_LIMIT", 20_000)
    out = tmp_path / "big"
    argv = ["efact", "generate", "--invoices", "40", "--out", str(out), *WORLD]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert "over the 0.0 MB GenAsync blob limit: post at most" in error and not out.exists()
    assert main([*argv, "--allow-oversize"]) == 0
    assert out.stat().st_size > 20_000


def test_check_json_lists_each_rejection(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    out = tmp_path / "faulty"
    assert main(["efact", "generate", "--invoices", "100", "--errors", "3%", "--out", str(out),
                 *WORLD]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["efact", "check", str(out), *WORLD]) == 1
    printed = capsys.readouterr().out.splitlines()[:-1]
    assert main(["efact", "check", str(out), "--json", *WORLD]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["records_in_error"] == 3
    listed = [f"record {r['index']} (type {r['record_type']}) zone {r['zone']}: "
              f"{r['letter']}{r['code']}" for r in report["rejections"]]  # fmt: skip
    assert [line.split(" ", 7)[:7] for line in printed] == [
        line.split(" ", 7)[:7] for line in listed
    ]


def test_generate_json_names_each_injected_fault(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    out = tmp_path / "faulty"
    assert main(["efact", "generate", "--invoices", "100", "--errors", "3%", "--out", str(out),
                 "--json", *WORLD]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert report["invoices"] == 100 and report["bytes"] == out.stat().st_size
    assert len(report["faults"]) == 3
    assert all({"invoice", "record_index", "kind", "code"} <= set(f) for f in report["faults"])
