"""Who may call the admin API: anyone on a loopback-bound server, else bearers of the token.

The decision is made on the address the server is bound to, not on the caller's address:
behind a proxy every caller looks local, whereas a server bound to 0.0.0.0 is reachable
from elsewhere whatever the caller in front of us looks like.
"""

from __future__ import annotations

import hmac
import ipaddress

from aiohttp import web

from simulator.runtime import Simulator
from simulator.server.admin_http import Handler


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (brackets and IPv4-mapped forms included)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def token_required(sim: Simulator) -> bool:
    return not is_loopback(sim.settings.host)


def admin_token(sim: Simulator) -> str:
    """The token given in the settings, else the one generated when the simulator started."""
    return sim.settings.admin_token or sim.generated_admin_token


def presents_token(authorization: str | None, token: str) -> bool:
    """Whether an Authorization header carries `Bearer <token>`, compared in constant time."""
    if not authorization:
        return False
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(credentials.strip().encode(), token.encode())


def guarded(key: web.AppKey[Simulator], handler: Handler) -> Handler:
    """`handler`, answering 401 first when the token is required and not presented.

    A wrapper per admin route rather than a middleware: the SOAP endpoints (the hot path)
    never pay for the check.
    """

    async def check_then_handle(request: web.Request) -> web.StreamResponse:
        sim = request.app[key]
        if token_required(sim) and not presents_token(
            request.headers.get("Authorization"), admin_token(sim)
        ):
            return unauthorized(request)
        return await handler(request)

    return check_then_handle


def unauthorized(request: web.Request) -> web.Response:
    presented = "Authorization" in request.headers
    reason = "the bearer token is wrong" if presented else "a bearer token is required"
    return web.json_response(
        {
            "error": f"{reason}: this server is not bound to loopback, so the admin API wants "
            "`Authorization: Bearer <token>` (the token `serve` printed, or --admin-token)"
        },
        status=401,
        headers={"WWW-Authenticate": 'Bearer realm="mycarenet-sim admin"'},
    )
