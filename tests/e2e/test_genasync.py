"""GenAsync over HTTP: post -> TAck, deliver -> get -> confirm, MTOM, faults, and a SIGKILL."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import random
import subprocess
import uuid
import zlib
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from lxml import etree

from simulator.client import genasync as ga_client
from simulator.client.connector import ConnectorClient
from simulator.codecs import genasync as codec
from simulator.codecs.blob import hash_value
from simulator.config import Settings
from simulator.runtime import Simulator
from simulator.security.pki import write_keystore
from simulator.security.wssecurity import sign_envelope_saml, verify_request
from simulator.security.xades import sign_blob, verify_blob
from simulator.services import efact_processing, mailbox, mailbox_contents
from simulator.soap.addressing import request_headers
from simulator.soap.envelope import new_envelope, serialize
from simulator.soap.parser import parse_xml
from simulator.store import parts
from tests.e2e.conftest import PASSWORD, Running
from tests.support.subprocess_server import SubprocessServer

FLAT_FILE = b"9200000101920000000000000000000000000000000000" * 20
T = TypeVar("T")


def run(coroutine: Awaitable[T]) -> T:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


async def _drain(client: ConnectorClient, box: str = "hcpfac") -> None:
    """Confirm whatever an earlier test left, so each test starts with an empty mailbox."""
    found = await ga_client.get(client, box, max_messages=1000, max_tacks=1000)
    await ga_client.confirm(
        client,
        box,
        references=[m.detail.reference or "" for m in found.messages],
        tack_contents=[t.tack.content for t in found.tacks],
    )


def _deliver(running: Running, name: str = "HCPFAC", content: bytes = b"931000 receipt") -> str:
    return mailbox.deliver(
        running.sim, "hcpfac", running.provider.nihii, name, content, issuer_io="300"
    )


# -- post -------------------------------------------------------------------------------------


def test_post_answers_a_tack_bound_to_the_request_and_keeps_the_file(running: Running) -> None:
    async def scenario() -> codec.TAck:
        async with running.client() as client:
            await _drain(client)
            return await ga_client.post(
                client,
                "hcpfac",
                FLAT_FILE,
                message_name="HCPFAC",
                destination_io="300",
                input_reference="20240000000042",
            )

    tack = run(scenario())
    assert tack.success
    assert tack.issuer == "urn:nip:issuer:io:300"
    assert tack.applies_to == "urn:nip:reference:input:20240000000042"
    key = codec.RESULT_SUCCESS.encode()
    assert tack.content == hmac.new(key, FLAT_FILE, hashlib.sha256).digest()
    posted = [p for p in mailbox.posted(running.sim, "hcpfac") if p["reference"] == tack.reference]
    assert len(posted) == 1
    assert mailbox.posted_file(running.sim, "hcpfac", tack.reference).read() == FLAT_FILE
    assert posted[0]["sender_nihii"] == running.provider.nihii
    assert posted[0]["destination_io"] == "300"


def test_the_tack_comes_back_with_get_until_confirmed(running: Running) -> None:
    async def scenario() -> tuple[codec.TAck, codec.GetResponse, codec.GetResponse]:
        async with running.client() as client:
            await _drain(client)
            tack = await ga_client.post(
                client, "hcpfac", FLAT_FILE, message_name="HCPFAC",
                destination_io="300", input_reference="20240000000043",
            )  # fmt: skip
            before = await ga_client.get(client, "hcpfac")
            await ga_client.confirm(client, "hcpfac", tack_contents=[tack.content])
            after = await ga_client.get(client, "hcpfac")
            return tack, before, after

    tack, before, after = run(scenario())
    assert [t.tack.reference for t in before.tacks] == [tack.reference]
    assert after.tacks == ()


# -- deliver, get, confirm --------------------------------------------------------------------


def test_deliver_get_confirm_then_the_mailbox_is_empty(running: Running) -> None:
    async def scenario() -> tuple[codec.GetResponse, codec.GetResponse]:
        async with running.client() as client:
            await _drain(client)
            _deliver(running, content=b"920098 answer")
            first = await ga_client.get(client, "hcpfac", message_names=["HCPFAC"])
            again = await ga_client.get(client, "hcpfac", message_names=["HCPFAC"])
            assert first.messages == again.messages  # returned until confirmed
            hashes = [base64.b64decode(m.detail.hash_value or "") for m in first.messages]
            await ga_client.confirm(client, "hcpfac", hash_values=hashes)
            return first, await ga_client.get(client, "hcpfac")

    first, after = run(scenario())
    (message,) = first.messages
    assert message.detail.content == b"920098 answer"
    assert message.detail.message_name == "HCPFAC"
    assert message.detail.hash_value == hash_value(b"920098 answer")
    assert after.messages == ()
    # The XAdES-T verifies against the Detail as the client received it.
    detail = codec.add_blob(etree.Element("x"), "Detail", message.detail)
    signer = verify_blob(
        message.xades, detail, ca_cert=running.sim.pki.ca.cert, now=running.sim.clock.now()
    )
    assert signer == running.sim.pki.insurer_signing.cert
    assert b"EncapsulatedTimeStamp" in message.xades


def test_confirm_is_idempotent_and_touches_only_what_it_names(running: Running) -> None:
    async def scenario() -> codec.GetResponse:
        async with running.client() as client:
            await _drain(client)
            kept = _deliver(running, content=b"kept")
            gone = _deliver(running, content=b"gone")
            for _ in range(2):
                await ga_client.confirm(client, "hcpfac", references=[gone, "no-such-ref"])
            found = await ga_client.get(client, "hcpfac")
            assert [m.detail.reference for m in found.messages] == [kept]
            return found

    run(scenario())


def test_message_names_include_and_max(running: Running) -> None:
    async def scenario() -> None:
        async with running.client() as client:
            await _drain(client)
            for name in ("HCPFAC", "HCPAFD", "HCPFAC", "HCPVWR"):
                _deliver(running, name=name, content=name.encode() + uuid.uuid4().bytes)
            only = await ga_client.get(client, "hcpfac", message_names=["HCPAFD", "HCPVWR"])
            assert [m.detail.message_name for m in only.messages] == ["HCPAFD", "HCPVWR"]
            every = await ga_client.get(client, "hcpfac")
            assert [m.detail.message_name for m in every.messages] == [
                "HCPFAC", "HCPAFD", "HCPFAC", "HCPVWR",
            ]  # fmt: skip
            two = await ga_client.get(client, "hcpfac", max_messages=2)
            assert [m.detail.message_name for m in two.messages] == ["HCPFAC", "HCPAFD"]
            none = await ga_client.get(client, "hcpfac", include_messages=False)
            assert none.messages == ()

    run(scenario())


def test_another_provider_does_not_see_my_messages(running: Running) -> None:
    other = next(
        p for p in running.population.providers
        if p.kind == "GP" and p.nihii != running.provider.nihii
    )  # fmt: skip
    keystore = running.keystore_for(other, "other-gp")

    async def scenario() -> None:
        async with running.client() as mine, running.client(keystore) as theirs:
            await _drain(mine)
            await _drain(theirs)
            reference = _deliver(running, content=b"for me only")
            seen = await ga_client.get(theirs, "hcpfac")
            assert seen.messages == ()
            # Confirming my reference from their side removes nothing of mine.
            await ga_client.confirm(theirs, "hcpfac", references=[reference])
            mine_now = await ga_client.get(mine, "hcpfac")
            assert [m.detail.reference for m in mine_now.messages] == [reference]

    run(scenario())


# -- MTOM -------------------------------------------------------------------------------------


def _signed_post_envelope(
    running: Running, client: ConnectorClient, token: etree._Element
) -> bytes:
    common = codec.CommonInput(
        is_test=True, origin=ga_client.origin_of(client), input_reference="20240000000099"
    )
    blob = codec.Blob(FLAT_FILE, "HCPFAC", id="blob")
    detail = codec.build_post(common, blob)[1]
    signature = sign_blob(
        detail,
        key=client.identity.key,
        cert=client.identity.cert,
        signing_time=running.sim.clock.now(),
    )
    payload = codec.build_post(common, blob, xades=signature)
    headers = request_headers(ga_client.ACTIONS["post"], to="urn:nip:destination:io:300")
    envelope = new_envelope(payload, headers)
    sign_envelope_saml(envelope, token, client.identity.key, now=running.sim.clock.now())
    return serialize(envelope)


def _as_mtom(document: bytes) -> tuple[str, bytes]:
    """Move the Detail's bytes into a binary MIME part referenced by xop:Include."""
    root = parse_xml(document)
    detail = root.find(f".//{{{codec.GA}}}Detail")
    assert detail is not None
    binary = base64.b64decode(detail.text or "")
    detail.text = None
    include = etree.SubElement(detail, "{http://www.w3.org/2004/08/xop/include}Include")
    include.set("href", "cid:detail%40sim")
    boundary = "uuid:7c1f-boundary"
    body = (
        f"--{boundary}\r\n"
        'Content-Type: application/xop+xml; charset=UTF-8; type="text/xml"\r\n'
        "Content-ID: <root.message@cxf.apache.org>\r\n\r\n"
    ).encode() + etree.tostring(root)
    body += (
        (
            f"\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\n"
            "Content-Transfer-Encoding: binary\r\nContent-ID: <detail@sim>\r\n\r\n"
        ).encode()
        + binary
        + f"\r\n--{boundary}--\r\n".encode()
    )
    content_type = (
        f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; '
        'start="<root.message@cxf.apache.org>"; start-info="text/xml"'
    )
    return content_type, body


def test_an_mtom_post_is_answered_like_an_inline_one(running: Running) -> None:
    async def scenario() -> tuple[int, bytes]:
        async with running.client() as client:
            document = _signed_post_envelope(running, client, await client.token())
            content_type, body = _as_mtom(document)
            headers = {"Content-Type": content_type, "SOAPAction": ga_client.ACTIONS["post"]}
            url = running.server.base_url + mailbox.MAILBOXES["hcpfac"].path
            assert client._session is not None
            async with client._session.post(url, data=body, headers=headers) as response:
                return response.status, await response.read()

    status, raw = run(scenario())
    assert status == 200, raw
    answer = parse_xml(raw).find(f".//{{{codec.GA}}}postResponse")
    assert answer is not None
    tack = codec.parse_post_response(answer)
    assert tack.content == codec.tack_content(FLAT_FILE, codec.RESULT_SUCCESS)


def test_a_broken_mtom_request_gets_the_genasync_fault(running: Running) -> None:
    async def scenario() -> tuple[int, bytes]:
        async with running.client() as client:
            headers = {"Content-Type": 'multipart/related; type="application/xop+xml"'}
            url = running.server.base_url + mailbox.MAILBOXES["hcpfac"].path
            assert client._session is not None
            async with client._session.post(url, data=b"--x\r\n", headers=headers) as response:
                return response.status, await response.read()

    status, raw = run(scenario())
    assert status == 500
    fault = parse_xml(raw).find(f".//{{{codec.GA}}}fault")
    assert fault is not None
    assert "boundary" in codec.parse_fault(fault).message
    # Refused before the pipeline, yet secured like every GenAsync answer.
    verify_request(
        parse_xml(raw), ca_cert=running.sim.pki.ca.cert, sts_cert=None,
        now=running.sim.wire_now(), require="x509",
    )  # fmt: skip


# -- faults -----------------------------------------------------------------------------------


def _post_fault(running: Running, **options: object) -> ga_client.GenAsyncFaultError:
    async def scenario() -> None:
        async with running.client() as client:
            arguments: dict[str, object] = {
                "message_name": "HCPFAC", "destination_io": "300",
                "input_reference": "20240000000001", **options,
            }  # fmt: skip
            await ga_client.post(client, "hcpfac", FLAT_FILE, **arguments)  # type: ignore[arg-type]

    with pytest.raises(ga_client.GenAsyncFaultError) as caught:
        run(scenario())
    return caught.value


def test_a_wrong_message_name_gets_the_genasync_fault_with_its_location(running: Running) -> None:
    error = _post_fault(running, message_name="GMD-CLOSURE")
    assert error.status == 500
    assert error.fault is not None
    assert error.fault.code == "INPUT_ERROR"
    assert error.fault.details[0].location == "/post/Detail/@MessageName"
    assert "HCPFAC" in error.fault.message


def test_a_post_without_destination_or_xades_is_refused(running: Running) -> None:
    no_to = _post_fault(running, destination_io=None)
    assert no_to.fault is not None and no_to.fault.details[0].location == "/Envelope/Header/To"
    no_xades = _post_fault(running, with_xades=False)
    assert no_xades.fault is not None and no_xades.fault.code == "VALIDATION_ERROR"
    assert "Xades-t" in no_xades.fault.message


def test_a_schema_violation_gets_the_genasync_fault(running: Running) -> None:
    async def scenario() -> ga_client.GenAsyncFaultError:
        async with running.client() as client:
            payload = codec.build_get(
                codec.GetRequest(ga_client.origin_of(client), codec.Query(), (), codec.Query())
            )
            payload.remove(payload.find(f"{{{codec.GA}}}MsgQuery"))
            with pytest.raises(ga_client.GenAsyncFaultError) as caught:
                await ga_client.call(client, "hcpfac", "get", payload, to=None)
            return caught.value

    error = run(scenario())
    assert error.fault is not None
    assert error.fault.code == "VALIDATION_ERROR"
    assert error.fault.details[0].code == "SOA-03006"
    assert "MsgQuery" in error.fault.message


# -- durability -------------------------------------------------------------------------------


def test_sigkill_between_post_or_deliver_and_confirm_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The insurer answers every file posted to hcpfac, even bytes that are no 920000 (a 931000
    then a 920099): with no delays, those answers are due at once, and come exactly once beside
    the message delivered by hand."""
    monkeypatch.setenv(efact_processing.ENVIRONMENT, "0,0,0")
    settings = Settings(data_dir=tmp_path, patients=600, providers=80, no_delay=True)
    local = Simulator.create(settings)
    gp = next(p for p in local.population.providers if p.kind == "GP")
    identity = local.pki.issue_provider(gp.nihii, gp.ssin, gp.last_name, "rsa")
    keystore = tmp_path / "gp.p12"
    write_keystore(keystore, identity, PASSWORD)

    def client_for(server: SubprocessServer) -> ConnectorClient:
        return ConnectorClient(server.base_url, keystore, PASSWORD, ca_cert=local.pki.ca_cert_path)

    server = SubprocessServer(tmp_path).start()
    try:

        async def post_then_crash() -> codec.TAck:
            async with client_for(server) as client:
                return await ga_client.post(
                    client, "hcpfac", FLAT_FILE, message_name="HCPFAC",
                    destination_io="300", input_reference="20240000000077",
                )  # fmt: skip

        tack = run(post_then_crash())
        reference = mailbox.deliver(local, "hcpfac", gp.nihii, "HCPFAC", b"931000", issuer_io="300")
        server.kill()
        server = SubprocessServer(tmp_path).start()

        async def get_confirm() -> tuple[codec.GetResponse, codec.GetResponse]:
            async with client_for(server) as client:
                found = await ga_client.get(client, "hcpfac")
                await ga_client.confirm(
                    client,
                    "hcpfac",
                    references=[m.detail.reference or "" for m in found.messages],
                    tack_contents=[tack.content],
                )
                return found, await ga_client.get(client, "hcpfac")

        found, after = run(get_confirm())
        by_hand = [m for m in found.messages if m.detail.reference == reference]
        insurer = [m for m in found.messages if m.common.input_reference == "20240000000077"]
        assert [m.detail.content for m in by_hand] == [b"931000"]
        assert sorted(m.detail.content[:6] for m in insurer) == [b"920099", b"931000"]
        assert len(found.messages) == 3
        assert [t.tack.reference for t in found.tacks] == [tack.reference]
        assert after.messages == () and after.tacks == ()
        server.kill()
        server = SubprocessServer(tmp_path).start()

        async def get_only() -> codec.GetResponse:
            async with client_for(server) as client:
                return await ga_client.get(client, "hcpfac")

        restarted = run(get_only())
        assert restarted.messages == () and restarted.tacks == ()
        assert [p["reference"] for p in mailbox.posted(local, "hcpfac")] == [tack.reference]
    finally:
        server.kill()
        local.close()


# -- addressing and security ------------------------------------------------------------------

WSA = "http://www.w3.org/2005/08/addressing"


def test_the_answer_relates_to_the_request_and_carries_a_fresh_signed_timestamp(
    running: Running,
) -> None:
    async def scenario() -> tuple[bytes, str]:
        async with running.client() as client:
            document = _signed_post_envelope(running, client, await client.token())
            message_id = parse_xml(document).findtext(f".//{{{WSA}}}MessageID") or ""
            path = mailbox.MAILBOXES["hcpfac"].path
            _, raw = await client.post_raw(path, document, ga_client.ACTIONS["post"])
            return raw, message_id

    raw, message_id = run(scenario())
    answer = parse_xml(raw)
    assert message_id.startswith("uuid:")
    assert answer.findtext(f".//{{{WSA}}}RelatesTo") == message_id
    assert answer.findtext(f".//{{{WSA}}}Action") == "urn:be:cin:nip:async:generic:post:tack"
    verify_request(
        answer,
        ca_cert=running.sim.pki.ca.cert,
        sts_cert=None,
        now=running.sim.clock.now(),
        require="x509",
    )


def test_an_unsigned_request_gets_the_genasync_fault(running: Running) -> None:
    async def scenario() -> tuple[int, bytes]:
        async with running.client() as client:
            payload = codec.build_get(
                codec.GetRequest(ga_client.origin_of(client), codec.Query(), (), codec.Query())
            )
            envelope = new_envelope(payload, request_headers(ga_client.ACTIONS["get"], to=None))
            path = mailbox.MAILBOXES["hcpfac"].path
            return await client.post_raw(path, serialize(envelope), ga_client.ACTIONS["get"])

    status, raw = run(scenario())
    assert status == 500
    root = parse_xml(raw)
    assert (root.findtext(".//faultcode") or "").startswith("wsse:")
    assert root.findtext(f".//{{{WSA}}}Action") == "urn:be:cin:nip:async:generic:get:fault"
    fault = root.find(f".//{{{codec.GA}}}fault")
    assert fault is not None
    assert codec.parse_fault(fault).code == "AUTHORIZATION_ERROR"
    # The fault carries the answer's WS-Security header (the connector's
    # IncomingSecurityHandler requires a Timestamp), signed like any other answer.
    verify_request(
        root, ca_cert=running.sim.pki.ca.cert, sts_cert=None, now=running.sim.wire_now(),
        require="x509",
    )  # fmt: skip


def test_a_xades_over_other_content_is_refused(running: Running) -> None:
    async def scenario() -> None:
        async with running.client() as client:
            common = codec.CommonInput(True, ga_client.origin_of(client), "20240000000005")
            other = codec.build_post(common, codec.Blob(b"other file", "HCPFAC", id="blob"))[1]
            signature = sign_blob(
                other,
                key=client.identity.key,
                cert=client.identity.cert,
                signing_time=running.sim.clock.now(),
            )
            payload = codec.build_post(
                common, codec.Blob(FLAT_FILE, "HCPFAC", id="blob"), xades=signature
            )
            await ga_client.call(
                client, "hcpfac", "post", payload, to="urn:nip:destination:io:300"
            )  # fmt: skip

    with pytest.raises(ga_client.GenAsyncFaultError) as caught:
        run(scenario())
    assert caught.value.fault is not None
    assert caught.value.fault.code == "VALIDATION_ERROR"
    assert "does not verify" in caught.value.fault.message


# Written out, not imported: the wire's names as the WSDL and the standards give them.
GA = "urn:be:cin:nip:async:generic"
DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"


def test_an_answer_written_in_parts_is_signed_for_the_real_clock_and_checks_out_with_openssl(
    running: Running, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A delivered answer kept in many parts, fetched as the connector fetches it (get with no
    SOAPAction, Timestamp-only signature, signed with the real clock) while the business
    clock is a year ahead, then judged without our code: the stdlib inflates the Detail,
    openssl digests it and checks the XAdES-T signature, libxml2 canonicalises."""
    sim = running.sim
    monkeypatch.setattr(parts, "PART_SIZE", 4096)
    content = b"920098" + bytes(random.Random(11).choices(b"0123456789 ", k=200_000))
    saved = sim.clock.state()
    sim.clock.advance(timedelta(days=400))
    try:
        reference = mailbox.deliver(sim, "gmd", running.provider.nihii, "TEST", content)
        raw = run(_raw_get(running, "gmd"))
    finally:
        sim.clock.load(saved)
    (stored,) = [m for m in mailbox.waiting_messages(sim, "gmd", running.provider.nihii)
                 if m.document["reference"] == reference]  # fmt: skip
    assert int(stored.document["detail_parts"]) > 5
    answer = etree.fromstring(raw)
    (item,) = [i for i in answer.iter(f"{{{GA}}}MsgResponse")
               if i.find(f"{{{GA}}}Detail").get("Reference") == reference]  # fmt: skip
    detail = item.find(f"{{{GA}}}Detail")
    inflated = zlib.decompress(base64.b64decode(detail.text), wbits=-15)
    assert inflated == content
    digest = _openssl(["dgst", "-sha256", "-binary"], inflated)
    assert base64.b64decode(detail.get("HashValue")) == digest
    signature = etree.fromstring(base64.b64decode(item.find(f"{{{GA}}}Xades-t").text))
    blob_ref, properties_ref = signature.findall(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
    assert blob_ref.get("URI") == f"#{detail.get('Id')}"
    assert base64.b64decode(blob_ref.findtext(f"{{{DS}}}DigestValue")) == digest
    properties = signature.find(f".//{{{XADES}}}SignedProperties")
    c14n = etree.tostring(properties, method="c14n", exclusive=True)
    assert base64.b64decode(properties_ref.findtext(f"{{{DS}}}DigestValue")) == _openssl(
        ["dgst", "-sha256", "-binary"], c14n
    )
    signed_info = etree.tostring(signature.find(f"{{{DS}}}SignedInfo"), method="c14n",
                                 exclusive=True)  # fmt: skip
    der = base64.b64decode(signature.findtext(f".//{{{DS}}}X509Certificate"))
    cert = tmp_path / "signer.pem"
    cert.write_bytes(_openssl(["x509", "-inform", "DER"], der))
    key = tmp_path / "signer.pub"
    key.write_bytes(_openssl(["x509", "-pubkey", "-noout", "-in", str(cert)], b""))
    value = tmp_path / "value.bin"
    value.write_bytes(base64.b64decode(signature.findtext(f"{{{DS}}}SignatureValue")))
    _openssl(["dgst", "-sha256", "-verify", str(key), "-signature", str(value)], signed_info)
    _openssl(["verify", "-CAfile", str(sim.pki.ca_cert_path), str(cert)], b"")
    # The two clocks: the signature tells the real time, not the business date a year ahead.
    signed_at = datetime.fromisoformat(
        signature.findtext(f".//{{{XADES}}}SigningTime").replace("Z", "+00:00")
    )
    assert abs(signed_at - datetime.now(UTC)) < timedelta(minutes=5)


async def _raw_get(running: Running, box: str) -> bytes:
    """A get as the connector sends it (no SOAPAction: client-quirks #1), the answer's bytes."""
    async with running.client() as client:
        assertion = await client.token()
        request = codec.GetRequest(
            origin=ga_client.origin_of(client), msg_query=codec.Query(True, 100),
            message_names=(), tack_query=codec.Query(False, 100),
        )  # fmt: skip
        path, _action, body = ga_client.signed_request(
            client, assertion, box, "get", codec.build_get(request), to=None,
            now=datetime.now(UTC),
        )  # fmt: skip
        status, raw = await client.send_bytes(path, None, body)
    assert status == 200, raw[:500]
    return raw


def _openssl(arguments: list[str], data: bytes) -> bytes:
    done = subprocess.run(["openssl", *arguments], input=data, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


def test_a_delivered_message_is_stored_compressed_and_read_back_whole(running: Running) -> None:
    """The store keeps the Detail as signed (deflated), in parts beside the mailbox entry, not
    the content in clear: a 920098 echoes each record in 800 bytes. Messages kept by older
    versions (the Detail text in the entry, or the content in clear) are still read."""
    sim = running.sim
    content = b"920098" + bytes(random.Random(7).choices(b"0123456789 ", k=3_000_000))
    mailbox.deliver(sim, "gmd", "00000000000", "TEST", content)
    (stored,) = mailbox.waiting_messages(sim, "gmd", "00000000000")
    assert "content" not in stored.document and "detail" not in stored.document
    reference = str(stored.document["reference"])
    parts = sim.records.find(mailbox_contents.MESSAGE_PARTS, prefix=f"{reference}/")
    assert len(parts) == stored.document["detail_parts"] > 1  # 1.4 MB deflated: two parts
    deflated = b"".join(base64.b64decode(str(doc["data"])) for _, doc in parts)
    assert zlib.decompress(deflated, wbits=-15) == content
    message = mailbox.message_of(sim, stored)
    assert message.detail.content == content
    assert message.detail.encoded == base64.b64encode(deflated).decode()  # sent as signed
    older = {**stored.document, "detail": base64.b64encode(deflated).decode()}
    del older["detail_parts"]
    assert mailbox.message_content(sim, older) == content
    oldest = {**older, "content": base64.b64encode(b"older").decode()}
    del oldest["detail"]
    assert mailbox.message_content(sim, oldest) == b"older"
    # Confirmed: the entry and its parts leave the store.
    request = codec.ConfirmRequest(
        codec.Origin(None, "", ""),
        msg_hash_values=(base64.b64decode(str(stored.document["hash"])),),
    )
    assert mailbox.confirm(sim, "gmd", "00000000000", request) == (1, 0)
    assert sim.records.find(mailbox_contents.MESSAGE_PARTS, prefix=f"{reference}/") == []
