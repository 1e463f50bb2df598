"""HTTP-level hardening, over real sockets: the SOAP Content-Type check, read timeouts against
slow clients (slowloris), and one log line per malformed request."""

from __future__ import annotations

import argparse
import logging
import socket
import time
from collections.abc import Iterator

import aiohttp
import pytest
from lxml import etree

from simulator.cli import serve
from simulator.codecs import etkdepot
from simulator.codecs import genasync as codec
from simulator.config import DEFAULT_READ_TIMEOUT_S, Settings
from simulator.server import transport
from simulator.services import mailbox
from simulator.soap.envelope import new_envelope, serialize
from simulator.soap.namespaces import SOA_ERRORS, SOAP11
from tests.support.server import ServerThread, start_server

READ_TIMEOUT = 1.0
ETK = "/EtkDepot/v1"
ENVELOPE = serialize(new_envelope(etkdepot.build_request("CBE", "0820563481", None)))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    running = start_server(
        tmp_path_factory.mktemp("hardening"), patients=50, providers=10, read_timeout=READ_TIMEOUT
    )
    yield running
    running.stop()


async def _post(
    server: ServerThread, path: str, body: bytes, content_type: str | None
) -> tuple[int, bytes]:
    headers = {"SOAPAction": '""'}
    # aiohttp adds application/octet-stream to a body without a type; skip_auto_headers
    # sends none at all.
    skip = () if content_type is not None else ("Content-Type",)
    if content_type is not None:
        headers["Content-Type"] = content_type
    async with (
        aiohttp.ClientSession(skip_auto_headers=skip) as session,
        session.post(server.base_url + path, data=body, headers=headers) as response,
    ):
        return response.status, await response.read()


def _soa_code(raw: bytes) -> tuple[str | None, str]:
    fault = etree.fromstring(raw).find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault")
    assert fault is not None, raw[:500]
    code = fault.findtext(f"detail/{{{SOA_ERRORS}}}BusinessError/Code")
    return code, fault.findtext("faultstring") or ""


# -- Content-Type ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "text/xml; charset=utf-8",  # SAAJ, WCF
        "text/xml;charset=UTF-8",
        'text/xml; charset="utf-8"',
        "text/xml",  # no charset: XML says its own encoding
        "Text/XML; charset=ISO-8859-1",
    ],
)
async def test_text_xml_is_accepted_with_any_charset(
    server: ServerThread, content_type: str
) -> None:
    status, raw = await _post(server, ETK, ENVELOPE, content_type)
    assert status == 200, raw[:500]


def _mtom(root: bytes, content_type_params: str) -> tuple[str, bytes]:
    boundary = "uuid:7c1f+id=1"
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Type: application/xop+xml; charset=utf-8; type="text/xml"\r\n'
            "Content-Transfer-Encoding: 8bit\r\n"
            "Content-ID: <http://tempuri.org/0>\r\n\r\n"
        ).encode()
        + root
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return f'multipart/related; boundary="{boundary}"; {content_type_params}', body


@pytest.mark.parametrize(
    "params",
    [
        # SAAJ (the eHealth connector): Multipart/Related, no start.
        'type="application/xop+xml"; start-info="text/xml"',
        # WCF: a start naming the root part.
        'type="application/xop+xml"; start="<http://tempuri.org/0>"; start-info="text/xml"',
    ],
)
async def test_mtom_passes_the_content_type_check(server: ServerThread, params: str) -> None:
    content_type, body = _mtom(ENVELOPE, params)
    if "start=" not in params:
        content_type = content_type.replace("multipart/related", "Multipart/Related")
    status, raw = await _post(server, ETK, body, content_type)
    assert status == 200, raw[:500]


@pytest.mark.parametrize(
    ("content_type", "says"),
    [
        ("application/soap+xml; charset=utf-8", "SOAP 1.2"),
        ("application/json", "application/json is not SOAP 1.1"),
        ("image/png", "image/png is not SOAP 1.1"),
        ("text/plain", "text/plain is not SOAP 1.1"),
        ("application/x-www-form-urlencoded", "is not SOAP 1.1"),
        (None, "no Content-Type"),
        # found by the fuzz suite: accepted before
        ("text/xml; charset=bogus", "charset 'bogus' is not a known encoding"),
        ('text/xml; charset="utf-8', """charset '"utf-8' is not a known encoding"""),
    ],
)
async def test_other_content_types_get_the_esb_fault(
    server: ServerThread, content_type: str | None, says: str
) -> None:
    status, raw = await _post(server, ETK, ENVELOPE, content_type)
    code, message = _soa_code(raw)
    assert (status, code) == (415, "SOA-03002")
    assert says in message and "text/xml" in message


async def test_a_genasync_path_answers_the_content_type_fault_its_own_way(
    server: ServerThread,
) -> None:
    status, raw = await _post(
        server, mailbox.MAILBOXES["hcpfac"].path, ENVELOPE, "application/soap+xml"
    )
    assert status == 415
    fault = etree.fromstring(raw).find(f".//{{{codec.GA}}}fault")
    assert fault is not None, raw[:500]
    assert "SOAP 1.2" in codec.parse_fault(fault).message


# -- slow clients ----------------------------------------------------------------------------


def _connect(server: ServerThread) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.settings.port))
    sock.settimeout(READ_TIMEOUT * 10)  # far beyond what the server should take
    return sock


def _read_until_closed(sock: socket.socket) -> tuple[bytes, float]:
    started = time.monotonic()
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        pytest.fail(f"the server held the connection past {READ_TIMEOUT * 10} s: {received!r}")
    except ConnectionResetError:
        pass
    return received, time.monotonic() - started


@pytest.mark.parametrize(
    ("path", "content_type"), [(ETK, "text/xml"), ("/__admin/reset", "application/json")]
)
def test_a_stalled_body_is_cut(server: ServerThread, path: str, content_type: str) -> None:
    with _connect(server) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            "Content-Length: 1000\r\n\r\n<soap:Envelope".encode()
        )
        received, waited = _read_until_closed(sock)
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), received[:300]
    assert b"read timeout" in body
    assert b"Traceback" not in received
    # The answer after the read timeout; the close at most one more (lingering) after it.
    assert waited < READ_TIMEOUT * 3 + 1


def test_a_stalled_request_head_is_cut(server: ServerThread) -> None:
    with _connect(server) as sock:
        sock.sendall(b"POST /EtkDepot/v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty")
        received, waited = _read_until_closed(sock)
    assert received == b""
    assert waited < READ_TIMEOUT * 2 + 1


def test_a_connection_that_never_speaks_is_closed(server: ServerThread) -> None:
    with _connect(server) as sock:
        received, waited = _read_until_closed(sock)
    assert received == b""
    assert waited < READ_TIMEOUT * 2 + 1


# -- malformed requests ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /EtkDepot/v1 HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
        b"POST /EtkDepot/v1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET /\x00 HTTP/1.1\r\n\r\n",
        b"POST /EtkDepot/v1 HTTP/1.1\r\nBad Header\r\n\r\n",
    ],
)
def test_a_malformed_request_is_one_log_line(
    server: ServerThread, caplog: pytest.LogCaptureFixture, request_bytes: bytes
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiohttp.server")
    with _connect(server) as sock:
        sock.sendall(request_bytes)
        received, _ = _read_until_closed(sock)
    assert received.startswith(b"HTTP/1.") and b" 400 " in received.split(b"\r\n")[0]
    assert b"Traceback" not in received
    deadline = time.monotonic() + 5
    while not _server_records(caplog) and time.monotonic() < deadline:
        time.sleep(0.01)  # the server thread logs after it answers
    (record,) = _server_records(caplog)
    assert record.exc_info is None and not record.exc_text
    assert "malformed HTTP request" in record.getMessage()
    assert "\n" not in record.getMessage()
    assert "Traceback" not in caplog.text


def _server_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "aiohttp.server" and "Error handling" in r.msg]


def test_the_server_still_answers(server: ServerThread) -> None:
    with _connect(server) as sock:
        sock.sendall(
            b"GET /__admin/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        received, _ = _read_until_closed(sock)
    assert received.startswith(b"HTTP/1.1 200")


# -- the command line ------------------------------------------------------------------------


def _serve_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    serve.register(parser.add_subparsers())
    return parser.parse_args(["serve", *argv])


def test_read_timeout_option() -> None:
    assert _serve_args().read_timeout == DEFAULT_READ_TIMEOUT_S
    assert _serve_args("--read-timeout", "2.5").read_timeout == 2.5
    for bad in ("0", "-1", "inf", "nan", "soon"):
        with pytest.raises(SystemExit):
            _serve_args("--read-timeout", bad)


def test_the_runner_bounds_heads_and_lingering() -> None:
    options = transport.runner_options(Settings(read_timeout=3.0))
    assert options == {"keepalive_timeout": 3.0, "lingering_time": 3.0}
    assert transport.runner_options(Settings())["lingering_time"] == transport.LINGERING_S
