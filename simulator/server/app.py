"""The aiohttp application: SOAP endpoints at the real paths, the admin API under /__admin/."""

from __future__ import annotations

import os
import socket
import ssl
import struct
from typing import Any

from aiohttp import web

from simulator import __version__
from simulator.config import TEST_CA
from simulator.runtime import Simulator
from simulator.server import admin, transport
from simulator.server.exchange import Exchange
from simulator.server.pipeline import process
from simulator.services import efact_jobs, genasync
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
    app[transport.READ_TIMEOUT_KEY] = sim.settings.read_timeout
    transport.quiet_malformed_requests()
    for path in sim.registry.paths:
        app.router.add_post(path, soap_endpoint)
        app.router.add_get(path, soap_endpoint_get)
    admin.register(app, SIMULATOR_KEY)
    # Any other POST still gets a SOAP answer: the registry turns an unknown path into the
    # ESB's 404 fault (SOA-03005) that names the path.
    app.router.add_post("/{unknown:.*}", soap_endpoint)
    app.on_startup.append(_start_jobs)
    app.on_cleanup.append(_close)
    return app


async def _start_jobs(app: web.Application) -> None:
    """eFact processing, off the event loop (services/efact_jobs.py); stopped before close."""
    efact_jobs.start(app[SIMULATOR_KEY])


async def soap_endpoint(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR_KEY]
    exchange = Exchange(
        path=request.path,
        soap_action=normalise_soap_action(request.headers.get("SOAPAction")),
        body=b"",
        received_at=sim.clock.now(),
    )
    content_type = request.headers.get("Content-Type")
    # Checked before the body is read: a SOAP 1.1 stack refuses another media type outright.
    problem = transport.soap_content_type_problem(content_type)
    if problem is not None:
        return _refuse(request, faults.SoapFault("SOA-03002", problem, http_status=415))
    try:
        exchange.body = await transport.read_body(request)
    except web.HTTPRequestEntityTooLarge:
        return _fault_response(
            faults.malformed(
                f"request body exceeds the {sim.settings.max_body_bytes}-byte limit",
                http_status=413,
            )
        )
    except transport.BodyNotReceived as error:
        status = 408 if error.timed_out else 400
        response = _refuse(request, faults.malformed(error.reason, http_status=status))
        response.force_close()  # what is left of the body will never be read
        return response
    if mtom.is_multipart(content_type):  # MTOM/XOP: the pipeline reads the inline equivalent
        try:
            exchange.body = mtom.to_inline(content_type or "", exchange.body)
        except mtom.MtomError as error:
            return _refuse(request, faults.malformed(f"MTOM/XOP request: {error}"))
    # Faults come out of the pipeline already rendered (GenAsync's ga:fault, signed) and
    # journaled as sent.
    await process(sim, exchange)
    if exchange.reset_connection:
        _reset(request)
    return web.Response(
        body=exchange.response,
        status=exchange.http_status,
        content_type=exchange.content_type,
        charset="utf-8",
    )


def _refuse(request: web.Request, fault: faults.SoapFault) -> web.Response:
    """A fault for a request refused before the pipeline, as GenAsync answers on its paths."""
    body = genasync.fault_body(request.path, fault, None, sim=request.app[SIMULATOR_KEY])
    if body is None:
        return _fault_response(fault)
    return web.Response(
        body=body, status=fault.http_status, content_type="text/xml", charset="utf-8"
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
    """The TLS server context; with `tls_client_ca`, mTLS: a client certificate issued by that
    CA is required (checked by OpenSSL against real time, like all wire-level validity)."""
    # Built by hand: create_default_context(CLIENT_AUTH) would also trust the system's roots
    # for client certificates, and only the configured CA may vouch for a client here.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(sim.pki.tls_cert_path, sim.pki.tls_key_path)
    client_ca = sim.settings.tls_client_ca
    if client_ca is not None:
        context.load_verify_locations(
            cafile=sim.pki.ca_cert_path if client_ca == TEST_CA else client_ca
        )
        context.verify_mode = ssl.CERT_REQUIRED
    return context


async def _close(app: web.Application) -> None:
    await efact_jobs.stop(app[SIMULATOR_KEY])
    app[SIMULATOR_KEY].close()


def health(sim: Simulator) -> dict[str, Any]:
    return {
        "status": "ok",
        "version": __version__,
        "clock": sim.clock.now().isoformat(),
        "security_mode": str(sim.security_mode),
        "seed": sim.settings.seed,
        "endpoints": sim.registry.paths,
        # Which process answered (serve --workers N) and where the state lives.
        "pid": os.getpid(),
        "store": sim.store_kind,
    }
