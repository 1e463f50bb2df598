"""The aiohttp application: SOAP endpoints at the real paths, the admin API under /__admin/."""

from __future__ import annotations

import socket
import ssl
import struct
from typing import Any

from aiohttp import web

from simulator import __version__
from simulator.runtime import Simulator
from simulator.server import admin
from simulator.server.exchange import Exchange
from simulator.server.pipeline import process
from simulator.services import genasync
from simulator.services.registry import normalise_soap_action
from simulator.soap import faults, mtom
from simulator.soap.envelope import serialize

SIMULATOR_KEY = web.AppKey("simulator", Simulator)
SOAP_CONTENT_TYPE = "text/xml; charset=utf-8"


def create_app(sim: Simulator) -> web.Application:
    # One byte over the limit is enough to know the body is too large; the handler answers
    # with a SOAP fault instead of aiohttp's plain-text 413.
    app = web.Application(client_max_size=sim.settings.max_body_bytes + 1)
    app[SIMULATOR_KEY] = sim
    for path in sim.registry.paths:
        app.router.add_post(path, soap_endpoint)
        app.router.add_get(path, soap_endpoint_get)
    admin.register(app, SIMULATOR_KEY)
    # Any other POST still gets a SOAP answer: the registry turns an unknown path into the
    # ESB's 404 fault (SOA-03005) that names the path.
    app.router.add_post("/{unknown:.*}", soap_endpoint)
    app.on_cleanup.append(_close)
    return app


async def soap_endpoint(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR_KEY]
    exchange = Exchange(
        path=request.path,
        soap_action=normalise_soap_action(request.headers.get("SOAPAction")),
        body=b"",
        received_at=sim.clock.now(),
    )
    try:
        exchange.body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _fault_response(
            faults.malformed(
                f"request body exceeds the {sim.settings.max_body_bytes}-byte limit",
                http_status=413,
            )
        )
    content_type = request.headers.get("Content-Type")
    if mtom.is_multipart(content_type):  # MTOM/XOP: the pipeline reads the inline equivalent
        try:
            exchange.body = mtom.to_inline(content_type or "", exchange.body)
        except mtom.MtomError as error:
            fault = faults.malformed(f"MTOM/XOP request: {error}")
            body = genasync.fault_body(request.path, fault, None)
            if body is None:
                return _fault_response(fault)
            return web.Response(body=body, status=fault.http_status, content_type="text/xml")
    await process(sim, exchange)
    if exchange.fault is not None:  # GenAsync answers faults with its own detail element
        operation = exchange.operation.name if exchange.operation else None
        exchange.response = (
            genasync.fault_body(exchange.path, exchange.fault, operation) or exchange.response
        )
    if exchange.reset_connection:
        _reset(request)
    return web.Response(
        body=exchange.response,
        status=exchange.http_status,
        content_type=exchange.content_type,
        charset="utf-8",
    )


def _reset(request: web.Request) -> None:
    """Drop the connection with a TCP reset (linger 0), as a failing load balancer does."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def soap_endpoint_get(request: web.Request) -> web.Response:
    return _fault_response(
        faults.SoapFault(
            "SOA-03002",
            f"{request.path} is a SOAP 1.1 endpoint: send an HTTP POST with a SOAP envelope",
            http_status=405,
        ),
        headers={"Allow": "POST"},
    )


def _fault_response(fault: faults.SoapFault, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=serialize(faults.fault_envelope(fault)),
        status=fault.http_status,
        content_type="text/xml",
        charset="utf-8",
        headers=headers,
    )


def server_ssl_context(sim: Simulator) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(sim.pki.tls_cert_path, sim.pki.tls_key_path)
    return context


async def _close(app: web.Application) -> None:
    app[SIMULATOR_KEY].close()


def health(sim: Simulator) -> dict[str, Any]:
    return {
        "status": "ok",
        "version": __version__,
        "clock": sim.clock.now().isoformat(),
        "security_mode": str(sim.security_mode),
        "seed": sim.settings.seed,
        "endpoints": sim.registry.paths,
    }
