"""Admin routes for the simulator clock: read it, set/freeze it, advance it.

Requests are checked whole before the clock is touched, so a refused request changes
nothing. The clock is kept between 1970 and 2999: beyond that, dates stop making sense for
billing rules and Python's datetime arithmetic starts to overflow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from simulator.clock import BRUSSELS, Clock
from simulator.runtime import Simulator
from simulator.server.admin_http import AdminError, Route, boolean, finite_number, json_object
from simulator.server.openapi import INSTANT_PATTERN

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, tzinfo=UTC)
_SPAN_SECONDS = (LATEST - EARLIEST).total_seconds()
_INSTANT = re.compile(INSTANT_PATTERN)


@dataclass(frozen=True)
class ClockChange:
    at: datetime | None  # aware, UTC
    frozen: bool | None


def clock_view(clock: Clock) -> dict[str, Any]:
    now = clock.now()
    return {
        "now": now.astimezone(UTC).isoformat(),
        "today": now.astimezone(BRUSSELS).date().isoformat(),
        "frozen": clock.frozen,
    }


def parse_instant(text: str, name: str) -> datetime:
    """An ISO 8601 date-time (naive = Brussels time, as the clock reads it), in UTC."""
    try:
        # The documented syntax only (Python's parser alone would take more, e.g. 20251103).
        if not _INSTANT.fullmatch(text):
            raise ValueError(text)
        # RFC 3339 allows a lower-case t/z; Python's parser wants them upper-case.
        value = datetime.fromisoformat(text.upper())
        if value.tzinfo is None:
            value = value.replace(tzinfo=BRUSSELS)
        return value.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 shifted by its offset
        raise AdminError(f"{name} {text!r} is outside {_range()}") from None
    except ValueError:
        raise AdminError(
            f"{name} must be an ISO 8601 date-time such as 2025-11-03T09:30:00+01:00 "
            f"(without an offset it is Brussels time), got {text!r}"
        ) from None


def parse_clock_change(payload: dict[str, Any]) -> ClockChange:
    if not payload:
        raise AdminError('give "at" (an ISO 8601 date-time) and/or "frozen" (true or false)')
    frozen = boolean(payload, "frozen")
    at: datetime | None = None
    if "at" in payload:
        raw = payload["at"]
        if not isinstance(raw, str):
            raise AdminError(f"at must be an ISO 8601 date-time string, got {raw!r}")
        at = _within_range(parse_instant(raw, "at"), "at")
    return ClockChange(at=at, frozen=frozen)


def parse_advance(payload: dict[str, Any], now: datetime) -> timedelta:
    """How far to move the clock from `now`; the target must stay within the clock's range."""
    seconds = finite_number(payload, "seconds")
    days = finite_number(payload, "days")
    if seconds is None and days is None:
        raise AdminError('give "seconds" and/or "days" (numbers, negative to go back)')
    total = (seconds or 0.0) + (days or 0.0) * 86_400
    if abs(total) > _SPAN_SECONDS:
        raise AdminError(f"advancing by {total:g} seconds would leave {_range()}")
    delta = timedelta(seconds=total)
    _within_range(now + delta, f"advancing by {total:g} seconds")
    return delta


def apply(clock: Clock, change: ClockChange) -> None:
    if change.at is not None:
        if change.frozen:
            clock.freeze(change.at)
        else:
            clock.set(change.at)
    elif change.frozen:
        clock.freeze()
    if change.frozen is False:
        clock.unfreeze()  # runs on from the instant just set, or from the frozen one


def register(app: web.Application, key: web.AppKey[Simulator], route: Route) -> None:
    async def get_clock(request: web.Request) -> web.Response:
        return web.json_response(clock_view(request.app[key].clock))

    async def put_clock(request: web.Request) -> web.Response:
        clock = request.app[key].clock
        change = parse_clock_change(await json_object(request, ("at", "frozen")))
        apply(clock, change)
        return web.json_response(clock_view(clock))

    async def advance_clock(request: web.Request) -> web.Response:
        clock = request.app[key].clock
        delta = parse_advance(await json_object(request, ("seconds", "days")), clock.now())
        clock.advance(delta)
        return web.json_response(clock_view(clock))

    route("GET", "/__admin/clock", get_clock)
    route("PUT", "/__admin/clock", put_clock)
    route("POST", "/__admin/clock/advance", advance_clock)


def _within_range(value: datetime, what: str) -> datetime:
    if not EARLIEST <= value <= LATEST:
        raise AdminError(f"{what} would put the clock at {value.isoformat()}, outside {_range()}")
    return value


def _range() -> str:
    return f"the clock's range {EARLIEST.date()} .. {LATEST.date()}"
