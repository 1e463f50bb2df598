"""Who may call the admin API: anyone on a loopback-bound server, else bearers of the token.

The decision is made on the address the server is bound to, not on the caller's address:
behind a proxy every caller looks local, whereas a server bound to 0.0.0.0 is reachable
from elsewhere whatever the caller in front of us looks like.

On loopback, being local is the only credential, and a web page the user visits can borrow
it: by DNS rebinding (its own name resolving to 127.0.0.1) or by a cross-site form or
`fetch`. So there the Host must name this server, an Origin must be this server's own, and
calls that change state may not use the bodies an HTML form or a CORS "simple request" can
send (text/plain, form encodings): browsers must ask first for anything else, and nothing
here ever says yes.
"""

from __future__ import annotations

import hmac
import ipaddress

from aiohttp import web
from yarl import URL

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


# What a browser sends cross-site without a CORS preflight (Fetch standard, CORS-safelisted).
SIMPLE_REQUEST_TYPES = frozenset(
    ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data")
)
STATE_CHANGING = frozenset(("POST", "PUT", "PATCH", "DELETE"))
_DEFAULT_PORTS = {"http": 80, "https": 443}


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


# The QA page (server/admin_ui.py) takes the token once (`/__admin/ui?token=...`) and keeps
# a value derived from it in this HttpOnly, SameSite=Strict cookie; its calls carry no header.
UI_COOKIE = "mycarenet_sim_admin"


def cookie_value(token: str) -> str:
    """What the cookie holds: derived from the token, so the cookie is not the token."""
    return hmac.new(token.encode(), b"mycarenet-sim admin page", "sha256").hexdigest()


def presents_cookie(request: web.Request, token: str) -> bool:
    value = request.cookies.get(UI_COOKIE)
    if not value:
        return False
    return hmac.compare_digest(value.encode(), cookie_value(token).encode())


def cross_origin(request: web.Request) -> str | None:
    """Why a call carrying the page's cookie comes from another page; None when it does not
    (no Origin: a navigation or an EventSource of the page itself)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return None
    name, port = split_host(request.headers.get("Host", ""))
    if name is not None and same_origin(origin, request.scheme, name, port):
        return None
    return f"Origin {origin!r} is not this server: the admin page's cookie is for its own calls"


def guarded(key: web.AppKey[Simulator], handler: Handler) -> Handler:
    """`handler`, answering 401 first when the token is required and not presented.

    A wrapper per admin route rather than a middleware: the SOAP endpoints (the hot path)
    never pay for the check.
    """

    async def check_then_handle(request: web.Request) -> web.StreamResponse:
        sim = request.app[key]
        if token_required(sim):
            token = admin_token(sim)
            if not presents_token(request.headers.get("Authorization"), token):
                if not presents_cookie(request, token):
                    return unauthorized(request)
                # The QA page's cookie (SameSite=Strict) is sent by the browser on its own:
                # only for the page's own origin, never for another web page's calls.
                refusal = cross_origin(request)
                if refusal is not None:
                    return forbidden(refusal)
        else:
            refusal = foreign_caller(request, sim.settings.host)
            if refusal is not None:
                return forbidden(refusal)
        if request.method in STATE_CHANGING and request.content_type in SIMPLE_REQUEST_TYPES:
            return unsupported_media_type(request)
        return await handler(request)

    return check_then_handle


def foreign_caller(request: web.Request, bound_host: str) -> str | None:
    """Why a request to a loopback-bound server looks like it comes from a web page; None
    when it does not. Requests without Host or Origin (curl, scripts, tests) pass."""
    host_header = request.headers.get("Host")
    if host_header is None:
        return None  # HTTP/1.0 clients; every browser sends a Host
    name, port = split_host(host_header)
    if name is None or not is_own_name(name, bound_host):
        return (
            f"Host {host_header!r} does not name this server (DNS rebinding?): the admin API "
            f"of a server bound to {bound_host} answers to localhost, 127.0.0.1, [::1] "
            f"and {bound_host}"
        )
    origin = request.headers.get("Origin")
    if origin is None:
        return None
    if not same_origin(origin, request.scheme, name, port):
        return (
            f"Origin {origin!r} is not this server ({request.scheme}://{host_header}): "
            "the admin API does not answer calls made by other web pages"
        )
    return None


def split_host(header: str) -> tuple[str | None, int | None]:
    """(name, port) of a Host header value, name lower-case without brackets; (None, None)
    when it is not a host[:port]."""
    value = header.strip().lower()
    if value.startswith("["):
        name, bracket, rest = value[1:].partition("]")
        if not bracket:
            return None, None
    else:
        name, colon, rest = value.partition(":")
        rest = colon + rest
    if rest and not (rest.startswith(":") and rest[1:].isdigit() and len(rest) <= 6):
        return None, None
    port = int(rest[1:]) if rest else None
    return (name.rstrip(".") or None), port


def is_own_name(name: str, bound_host: str) -> bool:
    """Loopback names and addresses, and the name the server was told to bind."""
    return is_loopback(name) or name == bound_host.strip().strip("[]").lower().rstrip(".")


def same_origin(origin: str, scheme: str, name: str, port: int | None) -> bool:
    try:
        url = URL(origin.strip())
        origin_host = (url.host or "").lower().rstrip(".")
        origin_port = url.port
    except ValueError:  # "null" (sandboxed frames, file:), or not a URL at all
        return False
    if url.scheme != scheme or not url.host:
        return False
    return origin_host == name and origin_port == (port or _DEFAULT_PORTS.get(scheme))


def forbidden(reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=403)


def unsupported_media_type(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "error": f"Content-Type {request.content_type} is not accepted on "
            f"{request.method} {request.path}: it is what an HTML form or a cross-site "
            "script can send unasked; send application/json (a scenario file: "
            "application/yaml)"
        },
        status=415,
    )


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
