"""Query-string parameters of the admin routes, read strictly: an unknown name or a bad value
is an AdminError that says which one and why, never silently ignored."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from simulator.server import admin_clock
from simulator.server.admin_http import AdminError

_DIGITS = re.compile(r"[0-9]+")


def only(params: Mapping[str, str], allowed: Collection[str]) -> None:
    # A misspelt filter must not silently widen the answer to everything.
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise AdminError(
            f"unknown parameter(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
        )


def integer(params: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    """A non-negative integer parameter; values above `maximum` are read as `maximum`."""
    raw = params.get(name)
    if raw is None:
        return default
    if not _DIGITS.fullmatch(raw):
        raise AdminError(f"{name} must be a non-negative integer, got {raw!r}")
    digits = raw.lstrip("0") or "0"
    # Past 18 digits it is above any maximum (and int() refuses very long strings).
    return maximum if len(digits) > 18 else min(int(digits), maximum)


def flag(params: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = params.get(name)
    if raw is None:
        return default
    if raw.lower() not in ("true", "false"):
        raise AdminError(f"{name} must be true or false, got {raw!r}")
    return raw.lower() == "true"


def choice(params: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of `choices`; the first is the default."""
    raw = params.get(name, choices[0])
    if raw not in choices:
        raise AdminError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def instant(params: Mapping[str, str], name: str) -> str | None:
    """An ISO 8601 instant as the journal stores them (UTC, isoformat) for ordered comparison."""
    raw = params.get(name)
    if raw is None:
        return None
    return admin_clock.parse_instant(raw, name).isoformat()
