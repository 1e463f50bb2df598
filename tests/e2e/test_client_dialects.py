"""Real clients' dialects over HTTP (issue 10): requests in the exact wire shape of the eHealth
connector (CONN, SAAJ + WSS4J), freehealth (FHC) and eHI (EGK), signed by xmlsec1 rather than
by our own code, and answers read the way those stacks read them."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from lxml import etree

from simulator.client import genasync as ga_client
from simulator.client.connector import ConnectorClient, Reply
from simulator.codecs import genasync as ga_codec
from simulator.codecs import memberdata as md_codec
from simulator.codecs.mycarenet_commons import CommonInput
from simulator.config import ResponseSecurity
from simulator.domain.memberdata import (
    CHRONIC_CONDITION,
    INSURABILITY,
    PATIENT_DATA,
    SSIN_FORMAT,
    SUCCESS,
    FacetRequest,
)
from simulator.domain.population import Patient
from simulator.security.wssecurity import verify_request
from simulator.services import mailbox
from simulator.soap.envelope import read_envelope
from simulator.soap.namespaces import SOAP11
from simulator.soap.parser import parse_xml
from simulator.store.base import JournalQuery
from tests.e2e.conftest import PASSWORD, Running
from tests.support.independent import saml_hok_envelope
from tests.support.server import start_server

WSA = "http://www.w3.org/2005/08/addressing"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
MEMBERDATA_PATHS = [
    "/MyCareNet/MemberData/v1",
    "/IrisCareNet/MemberData/v1",
    "/WalCareNet/MemberData/v1",
]
# FHC/IFHC MemberDataServiceImpl.kt getAttrQuery: the facets sent when the caller names none.
CONNECTOR_DEFAULT_FACETS = [
    FacetRequest(INSURABILITY, (("requestType", "information"), ("contactType", "other"))),
    FacetRequest(CHRONIC_CONDITION),
    FacetRequest(
        "urn:be:cin:nippin:carePath",
        (("carePathType", "diabetes"), ("carePathType", "renalinsufficiency")),
    ),
    FacetRequest("urn:be:cin:nippin:referencePharmacy"),
]


# -- the dialects -----------------------------------------------------------------------------


def _wss4j_instants(now: datetime) -> tuple[str, str]:
    """WSS4J: milliseconds and Z; CONN's GenAsync handler gives 60 s."""
    return (
        now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        (now + timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    )


def _conn_addressing(action: str, to: str | None) -> bytes:
    """CONN's WsAddressingHandlerV200508: Action with S:mustUnderstand, a bare-UUID
    MessageID, To (empty when no mutuality is named), ReplyTo/FaultTo anonymous."""
    anonymous = "http://www.w3.org/2005/08/addressing/anonymous"
    blocks = (
        f'<wsa:Action xmlns:wsa="{WSA}" SOAP-ENV:mustUnderstand="1">{action}</wsa:Action>'
        f'<wsa:MessageID xmlns:wsa="{WSA}">{uuid.uuid4()}</wsa:MessageID>'
    )
    if to is not None:
        blocks += f'<wsa:To xmlns:wsa="{WSA}">{to}</wsa:To>'
    blocks += (
        f'<wsa:ReplyTo xmlns:wsa="{WSA}"><wsa:Address>{anonymous}</wsa:Address></wsa:ReplyTo>'
        f'<wsa:FaultTo xmlns:wsa="{WSA}"><wsa:Address>{anonymous}</wsa:Address></wsa:FaultTo>'
    )
    return blocks.encode()


async def _conn_request(
    client: ConnectorClient,
    payload: etree._Element,
    *,
    genasync_action: str | None = None,
    to: str | None = None,
) -> bytes:
    """The connector's request: SAML HOK, Body+Timestamp (ESB) or Timestamp only (GenAsync)."""
    now = datetime.now(UTC)
    created, expires = _wss4j_instants(now)
    return saml_hok_envelope(
        etree.tostring(payload),
        etree.tostring(await client.token()),
        _key_pem(client),
        created=created,
        expires=expires,
        timestamp_id=f"TS-{uuid.uuid4()}",
        headers=_conn_addressing(genasync_action, to) if genasync_action else b"",
        sign_body=genasync_action is None,
    )


async def _ehi_request(client: ConnectorClient, payload: etree._Element) -> bytes:
    """eHI library-core (`Helper/WSS.cs ApplyOnRequest`): Timestamp id "uuid-<guid>",
    instants to the second with K, five minutes."""
    now = datetime.now(UTC).replace(microsecond=0)
    return saml_hok_envelope(
        etree.tostring(payload),
        etree.tostring(await client.token()),
        _key_pem(client),
        created=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        expires=(now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        timestamp_id=f"uuid-{uuid.uuid4()}",
        soap_prefix="s",
    )


def _key_pem(client: ConnectorClient) -> bytes:
    return client.identity.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


def _ehi_verify_response(raw: bytes) -> None:
    """eHI's `WSS.VerifyResponse`, line by line: every element child of the answer's
    wsse:Security must be a wsu:Timestamp (else NotSupportedException), one must be there,
    Created no older than now - 5 min, Expires not passed (+5 min skew)."""
    root = parse_xml(raw)
    security = root.find(f"{{{SOAP11}}}Header/{{{WSSE}}}Security")
    assert security is not None, "eHI: no WS-Security header"
    has_timestamp = False
    now = datetime.now(UTC)
    for child in security:
        if not isinstance(child.tag, str):
            continue
        if etree.QName(child).localname != "Timestamp":
            raise NotImplementedError(f"eHI throws NotSupportedException for {child.tag}")
        has_timestamp = True
        created = datetime.fromisoformat(child.findtext(f"{{{WSU}}}Created") or "")
        expires = datetime.fromisoformat(child.findtext(f"{{{WSU}}}Expires") or "")
        assert created >= now - timedelta(minutes=5), "Message created before now"
        assert now <= expires + timedelta(minutes=5), "Message expired"
    assert has_timestamp, "Message does not contain a timestamp"


async def _member_data_request(
    client: ConnectorClient, patient: Patient, today: datetime, facets: list[FacetRequest]
) -> etree._Element:
    """CONN's sealed MemberDataConsultationRequest (EncryptedRequestObjectBuilderImpl)."""
    assert client.subject.nihii is not None
    query = md_codec.build_attribute_query(
        requester_nihii=client.subject.nihii,
        subject=patient.ssin,
        subject_format=SSIN_FORMAT,
        facets=facets,
        start=today,
        end=today + timedelta(days=1),
        query_id=f"_{uuid.uuid4().hex}",
        now=today,
    )
    common = CommonInput(
        True, today.strftime("%Y%m%d%H%M%S"), "vendor", "doctor", client.subject.nihii,
        client.subject.ssin,
    )  # fmt: skip
    return md_codec.build_request(
        common,
        await client._seal_for_insurer(query),
        content_encryption="encryptedForKnownBED",
        request_id=f"_{uuid.uuid4().hex}",
        now=today,
    )


def _insured(running: Running) -> Patient:
    today = running.sim.clock.today()
    return next(
        p
        for p in running.population.patients
        if p.period_on(today) is not None and p.death_date is None
    )


def _business_day(running: Running) -> datetime:
    return datetime.combine(running.sim.clock.today(), datetime.min.time())


def _open_member_data(client: ConnectorClient, raw: bytes) -> md_codec.MemberDataResult:
    reply = Reply(200, read_envelope(parse_xml(raw)), raw)
    detail = md_codec.parse_response_detail(reply.payload)
    return md_codec.read_saml_response(client._open_answer(detail))


# -- 1. no SOAPAction: the body root decides ---------------------------------------------------


@pytest.mark.parametrize("path", MEMBERDATA_PATHS)
async def test_memberdata_as_the_connector_sends_it_without_soapaction(
    running: Running, path: str
) -> None:
    """CONN/FHC/PYC send no SOAPAction header on MemberData (client-quirks #1), and FHC's
    default facets repeat carePathType (#10); the regional copies answer the same (#11)."""
    patient = _insured(running)
    async with running.client() as client:
        payload = await _member_data_request(
            client, patient, _business_day(running), CONNECTOR_DEFAULT_FACETS
        )
        status, raw = await client.post_raw(path, await _conn_request(client, payload), None)
        assert status == 200, raw[:1500]
        result = _open_member_data(client, raw)
    assert (result.status, result.detail_codes) == (SUCCESS, ()), result.message
    assert result.attributes(PATIENT_DATA)[0]["urn:be:fgov:person:ssin"] == patient.ssin
    verify_request(
        parse_xml(raw), ca_cert=running.sim.pki.ca.cert, sts_cert=None,
        now=datetime.now(UTC), require="x509",
    )  # fmt: skip


async def test_a_soapaction_naming_another_operation_is_still_refused(running: Running) -> None:
    patient = _insured(running)
    async with running.client() as client:
        payload = await _member_data_request(
            client, patient, _business_day(running), CONNECTOR_DEFAULT_FACETS[:1]
        )
        status, raw = await client.post_raw(
            "/MyCareNet/MemberData/v1",
            await _conn_request(client, payload),
            "urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1:TarificationConsult",
        )
    assert status == 500
    assert b"SOA-03005" in raw and b"does not match" in raw


async def test_genasync_post_get_confirm_as_the_connector_sends_them(running: Running) -> None:
    """No SOAPAction, wsa:Action only, Timestamp-only signature (CONN GenAsyncServiceImpl +
    its SAMLHolderOfKeyHandler): post, get and confirm all go through."""
    content = b"920000" + b"0" * 200
    async with running.client() as client:
        origin = ga_client.origin_of(client)
        payload = ga_client.post_payload(
            client, content, message_name="HCPFAC", input_reference="20260000000042",
            with_xades=True, moment=datetime.now(UTC),
        )  # fmt: skip
        path = mailbox.MAILBOXES["hcpfac"].path
        body = await _conn_request(
            client, payload, genasync_action=ga_client.ACTIONS["post"],
            to="urn:nip:destination:io:300",
        )  # fmt: skip
        status, raw = await client.post_raw(path, body, None)
        assert status == 200, raw[:1500]
        tack = ga_codec.parse_post_response(read_envelope(parse_xml(raw)).payload)
        assert tack.success

        get = ga_codec.build_get(
            ga_codec.GetRequest(origin, ga_codec.Query(), ("HCPFAC",), ga_codec.Query())
        )
        body = await _conn_request(client, get, genasync_action=ga_client.ACTIONS["get"], to="")
        status, raw = await client.post_raw(path, body, None)
        assert status == 200, raw[:1500]
        found = ga_codec.parse_get_response(read_envelope(parse_xml(raw)).payload)
        assert tack.content in [t.tack.content for t in found.tacks]

        confirm = ga_codec.build_confirm(
            ga_codec.ConfirmRequest(
                origin, tack_contents=tuple(t.tack.content for t in found.tacks)
            )
        )
        body = await _conn_request(
            client, confirm, genasync_action=ga_client.ACTIONS["confirm"], to=""
        )
        status, raw = await client.post_raw(path, body, None)
        assert status == 200, raw[:1500]
        assert read_envelope(parse_xml(raw)).payload.tag == ga_codec.CONFIRM_RESPONSE
    entries = running.sim.store.journal(JournalQuery(service="genasync", limit=1000))
    assert [e.soap_action for e in entries[-3:]] == [None, None, None]
    assert [e.operation for e in entries[-3:]] == ["post", "get", "confirm"]


# -- 4. async MemberData over GenAsync --------------------------------------------------------


async def test_async_memberdata_as_freehealth_posts_it(running: Running) -> None:
    """FHC `sendMemberDataRequest`: an AttributeQueryList as MDA (text/xml, none, `_uuid`
    Id), no wsa:To, no Xades-t; the ResponseList comes back with `get`, one samlp:Response
    per query, in the real insurer fault shape for the refused one."""
    patients = [p for p in running.population.patients if p.periods][:2]
    today = _business_day(running)
    async with running.client() as client:
        assert client.subject.nihii is not None
        queries = [
            md_codec.build_attribute_query(
                requester_nihii=client.subject.nihii, subject=ssin, subject_format=SSIN_FORMAT,
                facets=CONNECTOR_DEFAULT_FACETS, start=today, end=today + timedelta(days=1),
                query_id=f"_{index}{uuid.uuid4().hex[:8]}", now=today,
            )
            for index, ssin in enumerate([*(p.ssin for p in patients), "00000000000"])
        ]  # fmt: skip
        origin = ga_client.origin_of(client)
        payload = ga_codec.build_post(
            ga_codec.CommonInput(True, origin, "20260000000043"),
            ga_codec.Blob(
                md_codec.build_attribute_query_list(queries), "MDA",
                content_type="text/xml", content_encoding="none", id=f"_{uuid.uuid4()}",
            ),
        )  # fmt: skip
        path = mailbox.MAILBOXES["memberData"].path
        body = await _conn_request(client, payload, genasync_action=ga_client.ACTIONS["post"])
        status, raw = await client.post_raw(path, body, None)
        assert status == 200, raw[:1500]
        assert ga_codec.parse_post_response(read_envelope(parse_xml(raw)).payload).success

        found = await ga_client.get(client, "memberData", message_names=["MDA"])
        (message,) = found.messages
        assert message.detail.content_type == "text/xml"
        assert message.common.input_reference == "20260000000043"
        results = md_codec.read_response_list(message.detail.content)
        await ga_client.confirm(
            client, "memberData", references=[message.detail.reference or ""],
            tack_contents=[t.tack.content for t in found.tacks],
        )  # fmt: skip
        assert (await ga_client.get(client, "memberData")).messages == ()
    assert [r.in_response_to for r in results] == [parse_xml(q).get("ID") for q in queries]
    assert [r.status for r in results[:2]] == [SUCCESS, SUCCESS]
    assert results[0].attributes(PATIENT_DATA)[0]["urn:be:fgov:person:ssin"] == patients[0].ssin
    assert results[2].detail_codes == ("INVALID_INSS_VALUE",)


async def test_async_memberdata_that_is_no_query_list_gets_the_genasync_fault(
    running: Running,
) -> None:
    async with running.client() as client:
        with pytest.raises(ga_client.GenAsyncFaultError) as caught:
            await ga_client.post(
                client, "memberData", b"<not-a-list/>", message_name="MDA",
                destination_io=None, input_reference="20260000000044", with_xades=False,
            )  # fmt: skip
    assert caught.value.fault is not None
    assert "AttributeQueryList" in caught.value.fault.message


# -- 5 and 6. GenAsync faults: wsa:To empty, signed, journaled as sent --------------------------


async def test_an_empty_wsa_to_gets_a_signed_genasync_fault_that_the_journal_keeps(
    running: Running,
) -> None:
    """CONN writes an empty wsa:To when no mutuality is named (client-quirks #18): MyCareNet
    routes a post by wsa:To, so the post is refused, with the header the connector's
    IncomingSecurityHandler checks, and the journal keeps the ga:fault that was sent."""
    content = b"920000" + b"0" * 200
    async with running.client() as client:
        payload = ga_client.post_payload(
            client, content, message_name="HCPFAC", input_reference="20260000000045",
            with_xades=True, moment=datetime.now(UTC),
        )  # fmt: skip
        body = await _conn_request(
            client, payload, genasync_action=ga_client.ACTIONS["post"], to=""
        )
        status, raw = await client.post_raw(mailbox.MAILBOXES["hcpfac"].path, body, None)
    assert status == 500
    root = parse_xml(raw)
    fault = ga_codec.parse_fault(root.find(f".//{{{ga_codec.GA}}}fault"))  # type: ignore[arg-type]
    assert fault.code == "INPUT_ERROR"
    assert fault.details[0].location == "/Envelope/Header/To"
    assert "wsa:To is empty" in fault.message
    # WS-Addressing: the fault names its Action and relates to the request's MessageID.
    assert root.findtext(f".//{{{WSA}}}Action") == "urn:be:cin:nip:async:generic:post:fault"
    assert root.findtext(f".//{{{WSA}}}RelatesTo") == parse_xml(body).findtext(
        f".//{{{WSA}}}MessageID"
    )
    verify_request(
        root, ca_cert=running.sim.pki.ca.cert, sts_cert=None, now=datetime.now(UTC),
        require="x509", body_must_be_signed=True,
    )  # fmt: skip
    entry = running.sim.store.journal(JournalQuery(service="genasync", limit=1000))[-1]
    assert entry.response.encode() == raw
    assert "BusinessError" not in entry.response


async def test_genasync_references_fit_the_schema_of_the_wsdl(
    running: Running, shared_reference: Path
) -> None:
    """NIPReference/OutputReference are StringReferenceType (maxLength 14) in the commonInfo
    bundled with GenericAsync-V3.wsdl: the getResponse validates against that schema."""
    xsd = shared_reference / "mycarenet/genasync/wsdl/GenericAsync-V3.xsd"
    schema = etree.XMLSchema(etree.parse(str(xsd), etree.XMLParser(no_network=True)))
    assert running.provider.nihii
    mailbox.deliver(
        running.sim, "hcpfac", running.provider.nihii, "HCPFAC", b"931000", issuer_io="300"
    )
    async with running.client() as client:
        found = await ga_client.get(client, "hcpfac")
        answer = ga_codec.build_get_response(found)
        await ga_client.confirm(
            client, "hcpfac", references=[m.detail.reference or "" for m in found.messages],
            tack_contents=[t.tack.content for t in found.tacks],
        )  # fmt: skip
    assert found.messages
    for message in found.messages:
        assert len(message.common.nip_reference or "") <= 14
        assert len(message.common.output_reference or "") <= 14
    schema.assertValid(answer)


# -- 7. answers eHI's library-core can read ----------------------------------------------------


async def test_ehi_library_core_gets_a_timestamp_only_answer(running: Running) -> None:
    patient = _insured(running)
    async with running.client() as client:
        payload = await _member_data_request(
            client, patient, _business_day(running), CONNECTOR_DEFAULT_FACETS[:1]
        )
        status, raw = await client.post_raw(
            "/MyCareNet/MemberData/v1", await _ehi_request(client, payload),
            "urn:be:fgov:ehealth:mycarenet:memberdata:protocol:v1:MemberDataConsultation",
        )  # fmt: skip
        assert status == 200, raw[:1500]
        _ehi_verify_response(raw)
        assert _open_member_data(client, raw).status == SUCCESS
        # The connector's dialect still gets the signed answer, which eHI could not read.
        connector = await client.post_raw(
            "/MyCareNet/MemberData/v1", await _conn_request(client, payload), None
        )
    with pytest.raises(NotImplementedError):
        _ehi_verify_response(connector[1])
    entry = running.sim.store.journal(JournalQuery(service="memberdata", limit=1000))
    assert [e.security.get("response") for e in entry][-2:] == ["timestamp-only", "full"]


async def test_the_timestamp_only_setting_applies_to_every_answer(tmp_path: Path) -> None:
    from simulator.security.pki import write_keystore

    server = start_server(tmp_path, response_security=ResponseSecurity.TIMESTAMP_ONLY)
    try:
        sim = server.sim
        assert sim is not None
        gp = next(p for p in sim.population.providers if p.kind == "GP")
        keystore = tmp_path / "gp.p12"
        write_keystore(
            keystore, sim.pki.issue_provider(gp.nihii, gp.ssin, gp.last_name, "rsa"), PASSWORD
        )
        async with ConnectorClient(
            server.base_url, keystore, PASSWORD, ca_cert=sim.pki.ca_cert_path,
            verify_responses=False,
        ) as client:  # fmt: skip
            token_answer = await client.post_raw(
                "/IAM/SecurityTokenService/v1",
                _serialized(client.token_request(datetime.now(UTC))),
                None,
            )
            _ehi_verify_response(token_answer[1])
            path, _, body = ga_client.signed_request(
                client, await client.token(), "hcpfac", "post",
                ga_client.post_payload(
                    client, b"x", message_name="HCPFAC", input_reference="20260000000046",
                    with_xades=True, moment=datetime.now(UTC),
                ),
                to=None, now=datetime.now(UTC),
            )  # fmt: skip
            status, raw = await client.post_raw(path, body, None)
        assert status == 500 and b"wsa:To is missing" in raw
        _ehi_verify_response(raw)  # a GenAsync fault too
    finally:
        server.stop()


def _serialized(envelope: etree._Element) -> bytes:
    from simulator.soap.envelope import serialize

    return serialize(envelope)


async def test_a_sealed_async_memberdata_post_gets_a_sealed_answer(running: Running) -> None:
    """The connector's sealed variant (encryptedForKnownBED): the ResponseList comes back
    sealed for the Reply-to-Etk, as encryptedForKnownRecipient (wire-formats 2.2)."""
    from simulator.codecs.mycarenet_commons import Blob as CommonsBlob

    patient = _insured(running)
    today = _business_day(running)
    async with running.client() as client:
        assert client.subject.nihii is not None
        query = md_codec.build_attribute_query(
            requester_nihii=client.subject.nihii, subject=patient.ssin, subject_format=SSIN_FORMAT,
            facets=CONNECTOR_DEFAULT_FACETS, start=today, end=today + timedelta(days=1),
            query_id="_sealed1", now=today,
        )  # fmt: skip
        sealed = await client._seal_for_insurer(md_codec.build_attribute_query_list([query]))
        payload = ga_codec.build_post(
            ga_codec.CommonInput(True, ga_client.origin_of(client), "20260000000047"),
            ga_codec.Blob(
                sealed, "MDA", content_type="text/xml", content_encoding="none",
                id=f"_{uuid.uuid4()}", content_encryption="encryptedForKnownBED",
            ),
        )  # fmt: skip
        body = await _conn_request(client, payload, genasync_action=ga_client.ACTIONS["post"])
        status, raw = await client.post_raw(mailbox.MAILBOXES["memberData"].path, body, None)
        assert status == 200, raw[:1500]
        found = await ga_client.get(client, "memberData")
        (message,) = found.messages
        assert message.detail.content_encryption == "encryptedForKnownRecipient"
        detail = message.detail
        content = client._open_answer(
            CommonsBlob(detail.content, "text/xml", "none", detail.content_encryption, detail.id)
        )
        await ga_client.confirm(
            client, "memberData", references=[detail.reference or ""],
            tack_contents=[t.tack.content for t in found.tacks],
        )  # fmt: skip
    (result,) = md_codec.read_response_list(content)
    assert (result.status, result.in_response_to) == (SUCCESS, "_sealed1")


async def test_our_own_client_speaks_the_connectors_dialect(running: Running) -> None:
    """No SOAPAction on MemberData and GenAsync; GenAsync signed over the Timestamp only."""
    patient = _insured(running)
    today = running.sim.clock.today()
    async with running.client() as client:
        assert (await client.member_data(patient.ssin, today, today)).status == SUCCESS
        await ga_client.get(client, "hcpfac", max_messages=0, max_tacks=0)
    entries = running.sim.store.journal(JournalQuery(limit=1000))
    memberdata = [e for e in entries if e.service == "memberdata"][-1]
    get = [e for e in entries if e.service == "genasync" and e.operation == "get"][-1]
    assert (memberdata.soap_action, get.soap_action) == (None, None)
    request = parse_xml(get.request.encode())
    ds = "{http://www.w3.org/2000/09/xmldsig#}"
    references = request.findall(
        f"{{{SOAP11}}}Header/{{{WSSE}}}Security/{ds}Signature/{ds}SignedInfo/{ds}Reference"
    )
    timestamp = request.find(f".//{{{WSU}}}Timestamp")
    assert timestamp is not None
    assert [r.get("URI") for r in references] == [f"#{timestamp.get(f'{{{WSU}}}Id')}"]


# -- 2. eAttest v3 with FHC's XAdES [enveloped-signature, base64, exc-c14n] ----------------------


async def test_eattest_with_freehealths_enveloped_xades_is_accepted(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FHC/IFHC sign EncryptedKnownContent through Santuario with encapsulate=true, which
    puts enveloped-signature before base64 and exc-c14n (client-quirks #9). Here xmlsec1
    signs it that way inside the seal our client sends."""
    from simulator.client import eattest as client_eattest
    from tests.e2e.test_eattest import _line
    from tests.support.independent import santuario_xades
    from tests.support.patients import plain_patients

    signatures: list[bytes] = []

    def fhc_sign(
        document: etree._Element, *, key: object, cert: object, signing_time: datetime
    ) -> None:
        identity = client.identity
        signed = santuario_xades(
            etree.tostring(document),
            private_key_pem=_key_pem(client),
            cert_der=identity.cert.public_bytes(Encoding.DER),
            issuer_name=identity.cert.issuer.rfc4514_string(),
            serial_number=identity.cert.serial_number,
            signing_time=signing_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        result = etree.fromstring(signed)
        signatures.append(base64.b64decode(result[-1].text or ""))
        document[:] = list(result)

    monkeypatch.setattr(client_eattest, "sign_enveloped", fhc_sign)
    patient = next(plain_patients(running.population, running.sim.clock.today()))
    async with running.client() as client:
        reply = await client_eattest.send_attestation(client, patient, [_line(running)])
    assert (reply.result.complete, reply.result.codes) == (True, ()), reply.result
    (signature,) = signatures
    transforms = etree.fromstring(signature).findall(
        ".//{http://www.w3.org/2000/09/xmldsig#}Reference[1]/*/"
        "{http://www.w3.org/2000/09/xmldsig#}Transform"
    )
    assert [t.get("Algorithm") for t in transforms] == [
        "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
        "http://www.w3.org/2000/09/xmldsig#base64",
        "http://www.w3.org/2001/10/xml-exc-c14n#",
    ]
