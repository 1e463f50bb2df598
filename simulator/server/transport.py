"""HTTP transport guards: read timeouts, the SOAP Content-Type check, quiet malformed requests.

aiohttp has no header or body read timeout of its own. Headers are bounded by its keep-alive
timer, which closes a connection that has not delivered a complete request head within that
time of opening or of the previous answer; bodies are read here under `asyncio.timeout`. Both
use `Settings.read_timeout` (`serve --read-timeout`), so a slowloris client holds a connection
for a bounded time only.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import re
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from simulator.config import Settings

# The timeout a request's body is read under; create_app stores the settings' value here.
READ_TIMEOUT_KEY = web.AppKey("read_timeout", float)
# aiohttp reads what is left of a body the handler did not read, so that the client sees the
# answer rather than a reset; at most this long (and never longer than the read timeout).
LINGERING_S = 10.0

SOAP_MEDIA_TYPE = "text/xml"
MTOM_MEDIA_TYPE = "multipart/related"
_CHARSET = re.compile(r"[A-Za-z0-9!#$%&'+^_`{}~.-]+")


class BodyNotReceived(Exception):
    """The body did not arrive whole: too slow (`timed_out`) or broken framing."""

    def __init__(self, reason: str, *, timed_out: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timed_out = timed_out


async def read_body(request: web.Request) -> bytes:
    """The whole body, read within the application's read timeout.

    Raises BodyNotReceived when it does not come in time or its framing is broken (bad
    chunked encoding, a Content-Length the connection does not deliver); HTTPRequestEntity-
    TooLarge passes through for the caller to answer in its own format.
    """
    timeout = request.app.get(READ_TIMEOUT_KEY)
    try:
        async with asyncio.timeout(timeout):
            return await _read_uncached(request)
    except TimeoutError:
        raise BodyNotReceived(
            f"the request body did not arrive within the {timeout:g}-second read timeout",
            timed_out=True,
        ) from None
    except RequestPayloadError as error:
        raise BodyNotReceived(f"the request body is broken: {error}", timed_out=False) from None


async def _read_uncached(request: web.Request) -> bytes:
    """`request.read()` without its copy cached on the request: the pipeline then holds the
    only copy of the body and can let it go once parsed (a near-limit body is 20 MB)."""
    limit = request.client_max_size
    body = bytearray()
    while chunk := await request.content.readany():
        body.extend(chunk)
        if limit and len(body) >= limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(body))
    data = bytes(body)
    del body
    return data


def runner_options(settings: Settings) -> dict[str, Any]:
    """Options for web.run_app / web.AppRunner that bound how long a request may take to come."""
    return {
        # Also the time a connection may take to send a complete request head (see above).
        "keepalive_timeout": settings.read_timeout,
        "lingering_time": min(LINGERING_S, settings.read_timeout),
    }


def soap_content_type_problem(content_type: str | None) -> str | None:
    """Why a SOAP 1.1 endpoint refuses this Content-Type; None when it is accepted.

    Accepted as the eHealth clients send it: `text/xml` with or without a charset (SAAJ and WCF
    write `text/xml; charset=utf-8`), and MTOM's `multipart/related` (SAAJ's form without
    `start` and WCF's), whose parameters soap/mtom.py then checks.
    """
    if content_type is None or not content_type.strip():
        return "the request has no Content-Type: send text/xml; charset=utf-8 (SOAP 1.1)"
    media_type, _, parameters = content_type.partition(";")
    media_type = media_type.strip().lower()
    if media_type == SOAP_MEDIA_TYPE:
        return _charset_problem(parameters)
    if media_type == MTOM_MEDIA_TYPE:
        return None  # a malformed MTOM message (no boundary, ...) is soap/mtom.py's SOA-03001
    if media_type == "application/soap+xml":
        return (
            "Content-Type application/soap+xml is SOAP 1.2; this endpoint speaks SOAP 1.1: "
            "send text/xml; charset=utf-8"
        )
    return (
        f"Content-Type {media_type} is not SOAP 1.1: send text/xml; charset=utf-8 "
        '(or MTOM: multipart/related; type="application/xop+xml")'
    )


def _charset_problem(parameters: str) -> str | None:
    """A charset the server cannot decode with is refused, as a Java ESB refuses it (an
    unsupported encoding); none at all is fine (the XML declaration decides)."""
    charset = _parameter(parameters, "charset")
    if charset is None:
        return None
    try:
        # A charset is an RFC 2978 token; Python's lookup would forgive stray quotes.
        if not _CHARSET.fullmatch(charset):
            raise LookupError(charset)
        codecs.lookup(charset)
    except LookupError:
        return (
            f"Content-Type charset {charset!r} is not a known encoding: "
            "send text/xml; charset=utf-8"
        )
    return None


def _parameter(parameters: str, name: str) -> str | None:
    """The value of a media-type parameter (quotes removed), None when absent."""
    for item in parameters.split(";"):
        key, equals, value = item.partition("=")
        if equals and key.strip().lower() == name:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            return value
    return None


class MalformedRequestLines(logging.Filter):
    """One log line, no traceback, for a request aiohttp could not parse.

    aiohttp logs "Error handling request" with the parser's traceback for every malformed
    request: noise that anyone on the network can produce at will. A genuine error of ours
    (not a parser error) keeps its traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc_info = record.exc_info
        if exc_info and isinstance(exc_info[1], HttpProcessingError):
            error = exc_info[1]
            # The parser's message spans lines (it draws a caret under the bad byte).
            reason = " ".join(str(getattr(error, "message", "") or error).split())[:300]
            record.msg = f"{record.getMessage()}: malformed HTTP request ({reason})"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
            if record.levelno > logging.WARNING:  # a client's mistake, not our error
                record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_FILTER = MalformedRequestLines()


def quiet_malformed_requests() -> None:
    """Install the filter on aiohttp's server logger (once, however many apps are made)."""
    logger = logging.getLogger("aiohttp.server")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
