"""What every admin route shares: JSON errors that say what is wrong, and JSON bodies read
strictly (an object, no unknown keys) so that a typo is refused instead of ignored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from aiohttp import web

from simulator.server import transport

JSON_TYPE = "application/json"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Adds an admin route (method, path, handler) with the token check and JSON errors.
Route = Callable[[str, str, Handler], None]


class AdminError(Exception):
    """A request the admin API refuses; becomes `{"error": message, ...}` with `status`."""

    def __init__(self, message: str, status: int = 400, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.extra = extra

    def response(self) -> web.Response:
        return web.json_response({"error": self.message, **self.extra}, status=self.status)


def answering_errors(handler: Handler) -> Handler:
    """`handler`, with an AdminError it raises turned into its JSON answer."""

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except AdminError as error:
            return error.response()

    return handle


async def json_object(
    request: web.Request, allowed: Collection[str], *, optional: bool = False
) -> dict[str, Any]:
    """The body as a JSON object whose keys are all in `allowed`; `optional`: empty = {}.

    A body must come as application/json: the other types are what browsers send cross-site
    without asking (see auth.py), and saying so beats guessing the format.
    """
    raw = await read_body(request)
    if raw and request.content_type != JSON_TYPE:
        given = request.headers.get("Content-Type")
        raise AdminError(
            f"send the JSON body as Content-Type: {JSON_TYPE}"
            + (f", not {given}" if given else " (the request has none)"),
            status=415,
        )
    if not raw.strip():
        if optional:
            return {}
        raise AdminError(f"expected a JSON object with {_keys(allowed)}; the body is empty")
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as error:
        raise AdminError(f"the body is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise AdminError(f"expected a JSON object with {_keys(allowed)}, got {_kind(value)}")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise AdminError(
            f"unknown key(s) {', '.join(map(repr, unknown))}; allowed: {_keys(allowed)}"
        )
    return value


async def read_body(request: web.Request) -> bytes:
    """The body, within the read timeout; AdminError when it does not come whole."""
    try:
        return await transport.read_body(request)
    except web.HTTPRequestEntityTooLarge:
        raise AdminError("the body is too large", status=413) from None
    except transport.BodyNotReceived as error:
        raise AdminError(error.reason, status=408 if error.timed_out else 400) from None


def finite_number(payload: dict[str, Any], key: str) -> float | None:
    """payload[key] as a finite number, None when absent; true/false are not numbers."""
    if key not in payload:
        return None
    value = payload[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AdminError(f"{key} must be a number, got {_kind(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise AdminError(f"{key} must be a finite number")
    return number


def boolean(payload: dict[str, Any], key: str) -> bool | None:
    if key not in payload:
        return None
    value = payload[key]
    if not isinstance(value, bool):
        raise AdminError(f"{key} must be true or false, got {_kind(value)}")
    return value


def _refuse_constant(name: str) -> float:
    # json.loads accepts NaN and Infinity, which are not JSON: refuse them like any typo.
    raise ValueError(f"{name} is not a JSON value")


def _keys(allowed: Collection[str]) -> str:
    return ", ".join(f'"{key}"' for key in sorted(allowed))


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return repr(value)
