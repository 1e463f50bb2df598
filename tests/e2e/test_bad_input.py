"""Bad input over HTTP gets the eHealth ESB's fault, never a traceback, a hang or a 200."""

from __future__ import annotations

import aiohttp
import pytest
from lxml import etree

from simulator.soap.namespaces import SOA_ERRORS, SOAP11
from tests.e2e.conftest import Running

STS = "/IAM/SecurityTokenService/v1"
TARIFICATION = "/MyCareNet/Tarification/v1"
TARIFICATION_ACTION = "urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1:TarificationConsult"
ENVELOPE = (
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
    "<soap:Header/><soap:Body>{body}</soap:Body></soap:Envelope>"
)


async def post(
    running: Running, path: str, body: bytes, action: str | None = TARIFICATION_ACTION
) -> tuple[int, str | None, str]:
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    if action is not None:
        headers["SOAPAction"] = f'"{action}"'
    async with (
        aiohttp.ClientSession() as session,
        session.post(running.server.base_url + path, data=body, headers=headers) as response,
    ):
        raw = await response.read()
    root = etree.fromstring(raw)
    fault = root.find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault")
    assert fault is not None, raw[:500]
    code = fault.findtext(f"detail/{{{SOA_ERRORS}}}BusinessError/Code") or fault.findtext(
        f"detail/{{{SOA_ERRORS}}}SystemError/Code"
    )
    return response.status, code, fault.findtext("faultstring") or ""


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&lol3;</soap:Body></soap:Envelope>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&xxe;</soap:Body></soap:Envelope>"""


@pytest.mark.parametrize(
    ("case", "body", "path", "action", "status", "code", "says"),
    [
        ("not xml", b"hello", TARIFICATION, TARIFICATION_ACTION, 500, "SOA-03001", "line 1"),
        (
            "truncated",
            ENVELOPE.format(body="<a>").encode()[:-20],
            TARIFICATION,
            TARIFICATION_ACTION,
            500,
            "SOA-03001",
            "line",
        ),
        ("xxe", XXE, TARIFICATION, TARIFICATION_ACTION, 500, "SOA-03001", "DOCTYPE"),
        (
            "billion laughs",
            BILLION_LAUGHS,
            TARIFICATION,
            TARIFICATION_ACTION,
            500,
            "SOA-03001",
            "DOCTYPE",
        ),
        ("not soap", b"<hello/>", TARIFICATION, TARIFICATION_ACTION, 500, "SOA-03002", "Envelope"),
        (
            "soap 1.2",
            b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>',
            TARIFICATION,
            TARIFICATION_ACTION,
            500,
            "SOA-03002",
            "SOAP 1.1",
        ),
        (
            "empty body",
            ENVELOPE.format(body="").encode(),
            TARIFICATION,
            TARIFICATION_ACTION,
            500,
            "SOA-03003",
            "Body",
        ),
        (
            "unknown path",
            ENVELOPE.format(body="<x/>").encode(),
            "/MyCareNet/Nothing/v1",
            None,
            404,
            "SOA-03005",
            "/MyCareNet/Nothing/v1",
        ),
        (
            "wrong action",
            ENVELOPE.format(
                body='<t:TarificationConsultationRequest xmlns:t="urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1"/>'
            ).encode(),
            TARIFICATION,
            "urn:wrong",
            500,
            "SOA-03005",
            "urn:wrong",
        ),
        (
            "wrong operation",
            ENVELOPE.format(body="<other/>").encode(),
            TARIFICATION,
            TARIFICATION_ACTION,
            500,
            "SOA-03005",
            "other",
        ),
        (
            "not xsd conform",
            ENVELOPE.format(
                body='<t:TarificationConsultationRequest xmlns:t="urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1"><t:Nonsense/></t:TarificationConsultationRequest>'
            ).encode(),
            TARIFICATION,
            TARIFICATION_ACTION,
            500,
            "SOA-03006",
            "line 1",
        ),
        (
            "no security header",
            (
                b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
                b'<wst:RequestSecurityToken xmlns:wst="http://docs.oasis-open.org/ws-sx/ws-trust/200512" Context="x">'
                b"<wst:TokenType>http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1</wst:TokenType>"
                b"<wst:RequestType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue</wst:RequestType>"
                b"</wst:RequestSecurityToken></soap:Body></soap:Envelope>"
            ),
            STS,
            None,
            500,
            "SOA-01001",
            "Security",
        ),
    ],
)
async def test_bad_input_gets_the_esb_fault(
    running: Running,
    case: str,
    body: bytes,
    path: str,
    action: str | None,
    status: int,
    code: str,
    says: str,
) -> None:
    got_status, got_code, message = await post(running, path, body, action)
    assert (got_status, got_code) == (status, code), message
    assert says in message


async def test_a_body_over_the_limit_is_refused_with_413(running: Running) -> None:
    body = ENVELOPE.format(body="<a>" + "x" * (50 * 1024 * 1024) + "</a>").encode()
    status, code, message = await post(running, TARIFICATION, body)
    assert (status, code) == (413, "SOA-03001")
    assert "limit" in message


async def test_get_on_an_endpoint_says_post(running: Running) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(running.server.base_url + TARIFICATION) as response,
    ):
        assert response.status == 405
        assert response.headers["Allow"] == "POST"


async def test_the_server_keeps_answering_after_bad_input(running: Running) -> None:
    for _ in range(3):
        await post(running, TARIFICATION, b"<<<")
    async with (
        aiohttp.ClientSession() as session,
        session.get(running.server.base_url + "/__admin/health") as response,
    ):
        assert response.status == 200
        assert (await response.json())["status"] == "ok"
