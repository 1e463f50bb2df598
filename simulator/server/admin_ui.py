"""The QA workbench page: `/__admin/ui`, static HTML/CSS/JS shipped in the package
(simulator/server/ui/, no build step, nothing fetched from elsewhere), and the redirects of
`/` and `/__admin/` to it.

The page follows the admin API's rules (server/auth.py). On loopback it opens as is. Bound
elsewhere it wants the token once: `/__admin/ui?token=TOKEN` sets an HttpOnly, SameSite=Strict
cookie and redirects to the clean address; the page's own calls then carry the cookie.
"""

from __future__ import annotations

import hmac
from importlib import resources
from typing import Final

from aiohttp import web

from simulator.runtime import Simulator
from simulator.server import auth
from simulator.server.admin_http import AdminError, Route

UI_PATH: Final = "/__admin/ui"
ASSET_TYPES: Final = {
    ".html": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
}
# Scripts and styles from this server only (no inline script, nothing from a CDN), and no
# framing (click-jacking the clock or the scenario).
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
COOKIE_MAX_AGE_S = 12 * 3600


def asset(name: str) -> bytes | None:
    """A file of simulator/server/ui by its plain name; None for anything else."""
    if "/" in name or "\\" in name or name.startswith(".") or not name.isascii():
        return None
    if not any(name.endswith(suffix) for suffix in ASSET_TYPES):
        return None
    resource = resources.files("simulator.server").joinpath("ui", name)
    if not resource.is_file():
        return None
    return resource.read_bytes()


def _file_response(name: str, body: bytes) -> web.Response:
    suffix = name[name.rfind(".") :]
    return web.Response(
        body=body, content_type=ASSET_TYPES[suffix], charset="utf-8", headers=SECURITY_HEADERS
    )


def _login_page(message: str, status: int) -> web.Response:
    body = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>mycarenet-sim QA workbench: token needed</title></head><body>"
        f"<h1>mycarenet-sim QA workbench</h1><p>{message}</p><p>This server is not bound to "
        "loopback, so the page needs the admin token once: open "
        f"<code>{UI_PATH}?token=TOKEN</code> with the token <code>serve</code> printed (or "
        "its <code>--admin-token</code>). It is kept in a cookie for this site only.</p>"
        "</body></html>"
    )
    return web.Response(
        body=body.encode(), status=status, content_type="text/html", headers=SECURITY_HEADERS
    )


def register(
    app: web.Application, key: web.AppKey[Simulator], route: Route, open_route: Route
) -> None:
    async def page(request: web.Request) -> web.StreamResponse:
        sim = request.app[key]
        if auth.token_required(sim):
            token = auth.admin_token(sim)
            offered = request.query.get("token")
            if offered is not None:
                if not hmac.compare_digest(offered.encode(), token.encode()):
                    return _login_page("The token in the address is wrong.", 401)
                response = web.HTTPSeeOther(UI_PATH, headers=SECURITY_HEADERS)
                response.set_cookie(
                    auth.UI_COOKIE,
                    auth.cookie_value(token),
                    max_age=COOKIE_MAX_AGE_S,
                    path="/",
                    httponly=True,
                    samesite="Strict",
                    secure=request.secure,
                )
                raise response
            authorised = auth.presents_token(
                request.headers.get("Authorization"), token
            ) or auth.presents_cookie(request, token)
            if not authorised:
                return _login_page("No token yet.", 401)
        else:
            refusal = auth.foreign_caller(request, sim.settings.host)
            if refusal is not None:
                return auth.forbidden(refusal)
        body = asset("index.html")
        if body is None:
            raise AdminError("the page is missing from the package (simulator/server/ui)", 500)
        return _file_response("index.html", body)

    async def page_asset(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = asset(name)
        if body is None:
            raise AdminError(f"no file {name!r} in the QA page", status=404)
        return _file_response(name, body)

    async def to_page(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(UI_PATH)

    open_route("GET", UI_PATH, page)  # checks the token itself (it may set the cookie)
    route("GET", UI_PATH + "/{name}", page_asset)
    open_route("GET", "/__admin/", to_page)
    open_route("GET", "/__admin", to_page)
    app.router.add_get("/", _redirect_home)


async def _redirect_home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(UI_PATH)
