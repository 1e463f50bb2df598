"""Attacks of issue 11 over HTTP: each is refused with a SOAP fault and leaves others' data intact.

GP A holds a valid token; GP B is another GP with mail waiting and an urgent-medical-aid
attestation. A tries to act as B with a plain different NIHII in its request and with a comment
injected into the NIHII of its own (still validly signed) SAML token. Also: a DOCTYPE that
names a local file or a FIFO, MTOM amplification, and canonicalisation stalls.
"""

from __future__ import annotations

import asyncio
import copy
import os
import stat
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from simulator.client import ConnectorClient, mediprima
from simulator.client import genasync as ga_client
from simulator.client.connector import wire_now
from simulator.codecs import genasync as codec
from simulator.codecs import tarification as tarification_codec
from simulator.codecs import uma as uma_codec
from simulator.domain.mediprima import REQUESTER, SUCCESS
from simulator.domain.population import Provider
from simulator.security.wssecurity import sign_envelope_saml
from simulator.services import mailbox
from simulator.services import uma as uma_service
from simulator.soap.envelope import new_envelope, serialize
from simulator.soap.namespaces import SOA_ERRORS, SOAP11
from simulator.soap.parser import parse_xml
from tests.e2e.conftest import Running

SAML1 = "urn:oasis:names:tc:SAML:1.0:assertion"
NIHII_ATTRIBUTE = "urn:be:fgov:person:ssin:ehealth:1.0:doctor:nihii11"
HCPFAC = "hcpfac"
ETAR_PATH = "/MyCareNet/Tarification/v1"
ETAR_ACTION = "urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1:TarificationConsult"
Injector = Callable[[etree._Element], etree._Element]


# -- tokens -----------------------------------------------------------------------------------


def plain(assertion: etree._Element) -> etree._Element:
    return assertion


def comment_first(assertion: etree._Element) -> etree._Element:
    """`<AttributeValue><!---->A</AttributeValue>`: c14n (hence the STS signature) is
    unchanged; lxml `.text` reads None."""
    forged = copy.deepcopy(assertion)
    value = _nihii_value(forged)
    comment = etree.Comment("")
    comment.tail, value.text = value.text, None
    value.insert(0, comment)
    return forged


def comment_inside(assertion: etree._Element) -> etree._Element:
    """`<AttributeValue>1234<!---->5678901</AttributeValue>`: `.text` reads a truncated NIHII."""
    forged = copy.deepcopy(assertion)
    value = _nihii_value(forged)
    text = value.text or ""
    comment = etree.Comment("x")
    value.text, comment.tail = text[:4], text[4:]
    value.append(comment)
    return forged


def _nihii_value(assertion: etree._Element) -> etree._Element:
    for attribute in assertion.iter(f"{{{SAML1}}}Attribute"):
        if attribute.get("AttributeName") == NIHII_ATTRIBUTE:
            value = attribute.find(f"{{{SAML1}}}AttributeValue")
            assert value is not None
            return value
    raise AssertionError("the token certifies no doctor NIHII")


TOKENS = [plain, comment_first, comment_inside]


# -- set-up -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gp_b(running: Running) -> tuple[Provider, Path]:
    other = next(
        p for p in running.population.providers_of_kind("GP") if p.nihii != running.provider.nihii
    )
    return other, running.keystore_for(other, f"gp-b-{other.nihii}")


def _b_mail(running: Running, gp_b: Provider) -> str:
    return mailbox.deliver(running.sim, HCPFAC, gp_b.nihii, "HCPFAC", b"931000 for B only")


def _waiting_for(running: Running, nihii: str) -> list[str]:
    stored = mailbox.waiting_messages(running.sim, HCPFAC, nihii)
    return [str(s.document["reference"]) for s in stored]


def _origin(client: ConnectorClient, nihii: str) -> codec.Origin:
    return replace(ga_client.origin_of(client), provider_nihii=nihii)


async def _genasync(
    client: ConnectorClient,
    assertion: etree._Element,
    operation: str,
    payload: etree._Element,
    to: str | None = None,
) -> tuple[int, codec.Fault | None, etree._Element]:
    path, action, body = ga_client.signed_request(
        client, assertion, HCPFAC, operation, payload, to=to, now=wire_now()
    )
    status, raw = await client.post_raw(path, body, action)
    root = parse_xml(raw)
    detail = root.find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault/detail/{{{codec.GA}}}fault")
    return status, (codec.parse_fault(detail) if detail is not None else None), root


# -- GenAsync ---------------------------------------------------------------------------------


@pytest.mark.parametrize("token", TOKENS, ids=lambda t: t.__name__)
async def test_a_gp_cannot_read_another_gps_mailbox(
    running: Running, gp_b: tuple[Provider, Path], token: Injector
) -> None:
    b, _ = gp_b
    reference = _b_mail(running, b)
    async with running.client() as client:
        assertion = token(await client.token())
        request = codec.GetRequest(_origin(client, b.nihii), codec.Query(), (), codec.Query())
        status, fault, root = await _genasync(client, assertion, "get", codec.build_get(request))
    assert status == 500, etree.tostring(root)
    assert fault is not None and fault.code == "AUTHORIZATION_ERROR"
    assert fault.details[0].code == "SOA-01002"
    assert b"931000 for B only" not in etree.tostring(root)
    assert reference in _waiting_for(running, b.nihii)


@pytest.mark.parametrize("token", TOKENS, ids=lambda t: t.__name__)
async def test_a_gp_cannot_confirm_another_gps_mail(
    running: Running, gp_b: tuple[Provider, Path], token: Injector
) -> None:
    b, _ = gp_b
    reference = _b_mail(running, b)
    async with running.client() as client:
        assertion = token(await client.token())
        request = codec.ConfirmRequest(_origin(client, b.nihii), msg_references=(reference,))
        status, fault, _ = await _genasync(
            client, assertion, "confirm", codec.build_confirm(request)
        )
    assert status == 500
    assert fault is not None and fault.code == "AUTHORIZATION_ERROR"
    assert reference in _waiting_for(running, b.nihii)


@pytest.mark.parametrize("token", TOKENS, ids=lambda t: t.__name__)
async def test_a_gp_cannot_post_as_another_gp(
    running: Running, gp_b: tuple[Provider, Path], token: Injector
) -> None:
    b, _ = gp_b
    before = len(mailbox.posted(running.sim, HCPFAC))
    async with running.client() as client:
        assertion = token(await client.token())
        payload = ga_client.post_payload(
            client,
            b"a file B never sent",
            message_name="HCPFAC",
            input_reference="20240000000099",
            with_xades=True,
            moment=wire_now(),
        )
        origin = payload.find(f".//{{{codec.COMMON}}}Origin")
        assert origin is not None
        for value in origin.iter(f"{{{codec.COMMON}}}Value"):
            value.text = b.nihii
        status, fault, _ = await _genasync(
            client, assertion, "post", payload, to=ga_client.destination("300")
        )
    assert status == 500
    assert fault is not None and fault.code == "AUTHORIZATION_ERROR"
    assert len(mailbox.posted(running.sim, HCPFAC)) == before
    assert mailbox.waiting_tacks(running.sim, HCPFAC, b.nihii) == []


@pytest.mark.parametrize("token", [comment_first, comment_inside], ids=lambda t: t.__name__)
async def test_a_comment_in_the_token_keeps_the_callers_own_mailbox(
    running: Running, token: Injector
) -> None:
    """Read as the real stack reads it, the commented NIHII is still the caller's own."""
    own = mailbox.deliver(running.sim, HCPFAC, running.provider.nihii, "HCPFAC", b"for A")
    async with running.client() as client:
        assertion = token(await client.token())
        request = codec.GetRequest(ga_client.origin_of(client), codec.Query(), (), codec.Query())
        status, fault, root = await _genasync(client, assertion, "get", codec.build_get(request))
    assert (status, fault) == (200, None), etree.tostring(root)
    answer = codec.parse_get_response(root.find(f"{{{SOAP11}}}Body")[0])  # type: ignore[index]
    assert own in [m.detail.reference for m in answer.messages]


# -- UMA --------------------------------------------------------------------------------------


async def _b_attestation(running: Running, keystore: Path) -> tuple[str, str]:
    patient = running.population.situation("mediprima-uma")
    async with running.client(keystore) as client:
        held = await mediprima.search_uma(
            client, patient.ssin, period=(running.sim.clock.today(), None)
        )
        if held.attestations:
            return patient.ssin, held.attestations[0].number
        sent = await mediprima.send_uma(client, patient.ssin, running.sim.clock.today())
    assert (sent.status, sent.error_codes) == (SUCCESS, ()), sent
    return patient.ssin, sent.attestations[0].number


@pytest.mark.parametrize("token", TOKENS, ids=lambda t: t.__name__)
@pytest.mark.parametrize("author", ["B", "A"])
async def test_a_gp_cannot_delete_another_gps_uma_attestation(
    running: Running, gp_b: tuple[Provider, Path], token: Injector, author: str
) -> None:
    b, keystore = gp_b
    ssin, number = await _b_attestation(running, keystore)
    named = b if author == "B" else running.provider
    delete = uma_codec.DeleteUma(
        uma_codec.author_of(named.nihii, named.ssin, named.last_name, named.first_name),
        ssin,
        number,
    )
    request = uma_codec.build_delete_request(delete, request_id="_attack", now=datetime.now(UTC))
    async with running.client() as client:
        envelope = new_envelope(request)
        sign_envelope_saml(
            envelope, token(await client.token()), client.identity.key, now=wire_now()
        )
        status, raw = await client.post_raw(
            uma_service.PATH, serialize(envelope), mediprima.UMA_ACTION.format("delete")
        )
    assert status == 200, raw
    answer = uma_codec.parse_response(parse_xml(raw).find(f"{{{SOAP11}}}Body")[0])  # type: ignore[index]
    expected = "AUTHOR_NOT_CALLER" if author == "B" else "NOT_AUTHOR"
    assert (answer.status, answer.error_codes) == (REQUESTER, (expected,))
    assert running.sim.records.get(uma_service.KIND, f"{ssin}:{number}") is not None


# -- eTar (MyCareNet commons: the CareProvider is the token's holder) -------------------------


@pytest.mark.parametrize("token", TOKENS, ids=lambda t: t.__name__)
async def test_etar_refuses_a_care_provider_other_than_the_token_holder(
    running: Running, gp_b: tuple[Provider, Path], token: Injector
) -> None:
    b, _ = gp_b
    request = tarification_codec.build_request(
        provider_nihii=b.nihii,
        provider_ssin=b.ssin,
        provider_type="persphysician",
        patient_ssin=running.population.patients[0].ssin,
        encounter_date=running.sim.clock.today(),
        codes=["101032"],
        gmd_manager=None,
        input_reference=f"{time.time_ns() % 10**17:017d}",
        issue_instant=datetime.now(UTC),
    )
    async with running.client() as client:
        envelope = new_envelope(request)
        sign_envelope_saml(
            envelope, token(await client.token()), client.identity.key, now=wire_now()
        )
        status, raw = await client.post_raw(ETAR_PATH, serialize(envelope), ETAR_ACTION)
    assert (status, _soa_code(raw)) == (500, "SOA-01002")
    assert f"names NIHII {b.nihii} but the SAML token was issued to NIHII" in _faultstring(raw)


# -- local files through a DOCTYPE ------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16-le", "utf-16-be"])
async def test_a_doctype_naming_a_fifo_never_opens_it(
    running: Running, tmp_path: Path, encoding: str
) -> None:
    """libxml2 opening the FIFO would block for good (like /dev/zero spins): a reader shows."""
    fifo = tmp_path / "probe"
    os.mkfifo(fifo)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    for document in (
        f'<!DOCTYPE x [<!ENTITY % p SYSTEM "file://{fifo}"> %p;]><x/>',
        f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file://{fifo}">]><x>&e;</x>',
    ):
        body = document.encode(encoding)
        async with running.client() as client:
            status, raw = await asyncio.wait_for(client.post_raw(ETAR_PATH, body), timeout=10)
        assert status == 500
        assert _soa_code(raw) == "SOA-03001"
        assert b"DOCTYPE" in raw
        with pytest.raises(OSError):  # ENXIO: nobody holds the FIFO open for reading
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


async def test_the_fault_says_the_same_for_existing_and_missing_files(running: Running) -> None:
    answers = []
    for path in ("/etc/passwd", "/etc/no-such-file-here"):
        body = f'<!DOCTYPE x [<!ENTITY % p SYSTEM "file://{path}"> %p;]><x/>'.encode()
        async with running.client() as client:
            status, raw = await client.post_raw(ETAR_PATH, body)
        answers.append((status, _faultstring(raw)))
    assert answers[0] == answers[1]


# -- MTOM amplification and canonicalisation stalls -------------------------------------------


async def test_one_attachment_included_many_times_is_refused(running: Running) -> None:
    includes = "".join(f'<d{i}><xop:Include href="cid:big@sim"/></d{i}>' for i in range(400))
    root = f'<e xmlns:xop="http://www.w3.org/2004/08/xop/include">{includes}</e>'.encode()
    body = (
        b"--b1\r\nContent-Type: application/xop+xml\r\nContent-ID: <root@sim>\r\n\r\n"
        + root
        + b"\r\n--b1\r\nContent-ID: <big@sim>\r\n\r\n"
        + b"x" * 1_000_000
        + b"\r\n--b1--\r\n"
    )
    content_type = (
        'multipart/related; type="application/xop+xml"; boundary="b1"; start="<root@sim>"'
    )
    async with running.client() as client:
        assert client._session is not None
        started = time.perf_counter()
        async with client._session.post(
            client.base_url + ETAR_PATH,
            data=body,
            headers={"Content-Type": content_type},
        ) as response:
            status, raw = response.status, await response.read()
    assert status == 500
    assert _soa_code(raw) == "SOA-03001"
    assert b"included once" in raw
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("attributes", lambda: "<r><s " + " ".join(f'a{i}="x"' for i in range(100_000)) + "/></r>"),
        (
            "namespaces",
            lambda: (
                "<r " + " ".join(f'xmlns:p{i}="urn:x:{i}"' for i in range(40_000)) + "><b/></r>"
            ),
        ),
    ],
)
async def test_complexity_bombs_get_a_fault_quickly(
    running: Running, name: str, build: Callable[[], str]
) -> None:
    async with running.client() as client:
        started = time.perf_counter()
        status, raw = await client.post_raw(ETAR_PATH, build().encode())
    assert status == 500
    assert _soa_code(raw) == "SOA-03001"
    assert b"allowed" in raw, name
    assert time.perf_counter() - started < 5


def _soa_code(raw: bytes) -> str | None:
    return parse_xml(raw).findtext(f".//{{{SOA_ERRORS}}}BusinessError/Code")


def _faultstring(raw: bytes) -> str:
    return parse_xml(raw).findtext(".//faultstring") or ""
