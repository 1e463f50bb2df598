"""`serve --date`: the server starts on a business date and serves that day's world, which
`world --url` describes (docs/rules.md, "World")."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from simulator.cli.main import main as cli_main


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())  # type: ignore[no-any-return]


@pytest.mark.slow
def test_serve_starts_on_the_given_business_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "simulator", "serve", "--port", str(port), "--data-dir",
         str(tmp_path / "data"), "--date", "2025-10-15", "--no-delay"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        for _ in range(300):
            try:
                clock = _get(f"{base}/__admin/clock")
                break
            except OSError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                time.sleep(0.1)
        assert clock["today"] == "2025-10-15"
        population = _get(f"{base}/__admin/population?limit=1")
        assert population["date"] == "2025-10-15"
        code = cli_main(["world", "find", "--situation", "deceased", "--url", base, "--json"])
        found = json.loads(capsys.readouterr().out)
        assert code == 0 and found["date"] == "2025-10-15"
        (deceased,) = found["patients"][:1]
        assert "DECEASED" in deceased["flags"]  # died a few days before 15 Oct 2025
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert "business date 2025-10-15" in output


def test_a_bad_date_is_refused_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli_main(["serve", "--date", "15/10/2025"])
    assert exited.value.code == 2
    assert "is not a date YYYY-MM-DD" in capsys.readouterr().err
