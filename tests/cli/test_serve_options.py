"""`serve --response-security`: the option reaches the settings the simulator is made from."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.cli import serve
from simulator.cli.main import build_parser
from simulator.config import ResponseSecurity, Settings


class _Captured(Exception):
    def __init__(self, settings: Settings) -> None:
        super().__init__("captured")
        self.settings = settings


class _Simulator:
    @classmethod
    def create(cls, settings: Settings, clock: object = None) -> None:
        raise _Captured(settings)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], ResponseSecurity.FULL),
        (["--response-security", "timestamp-only"], ResponseSecurity.TIMESTAMP_ONLY),
        (["--response-security", "full"], ResponseSecurity.FULL),
    ],
)
def test_the_response_security_option_reaches_the_settings(
    argv: list[str], expected: ResponseSecurity, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serve, "Simulator", _Simulator)
    monkeypatch.setattr(serve, "_listening_socket", lambda host, port: None)
    args = build_parser().parse_args(["serve", "--data-dir", str(tmp_path), *argv])
    with pytest.raises(_Captured) as caught:
        serve.run(args)
    assert caught.value.settings.response_security is expected


def test_an_unknown_profile_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--response-security", "signed-body-only"])
    assert "timestamp-only" in capsys.readouterr().err
