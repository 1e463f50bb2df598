"""EncryptedKnownContent: official schemas, round trips, precise refusals, and the sealed chain."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from lxml import etree

from simulator.codecs.encrypted_content import (
    ContentError,
    KnownContent,
    build_known_content,
    parse_known_content,
)
from simulator.security.etk import build_etk, parse_etk
from simulator.security.pki import TestPki
from simulator.security.sealing import seal, unseal

PAYLOAD = b'<SendTransactionRequest xmlns="urn:x">caf\xc3\xa9</SendTransactionRequest>'
FULL = KnownContent(
    business_content=PAYLOAD,
    reply_to_etk=b"\x30\x82etk-bytes",
    xades=b"<ds:Signature/>",
    content_id="_6f1c2a9e-0d1b-4c55-9d0a-1e2f3a4b5c6d",
)
MINIMAL = KnownContent(business_content=b"\x00\x01", reply_to_etk=None, xades=None)
WITH_ATTRIBUTES = KnownContent(
    business_content=PAYLOAD,
    reply_to_etk=None,
    xades=None,
    content_type="text/xml",
    content_encoding="deflate",
    content_id="blob",
)


def _schema(path: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(path)))


@pytest.mark.interop
@pytest.mark.parametrize("content", [FULL, MINIMAL], ids=["full", "minimal"])
def test_output_validates_against_the_official_attest_schema(
    shared_reference: Path, content: KnownContent
) -> None:
    schema = _schema(
        shared_reference / "xsd/ehealth-mycarenet-attest/XSD/encryption/businessContent.xsd"
    )
    document = etree.fromstring(build_known_content(content))
    assert schema.validate(document), schema.error_log


@pytest.mark.interop
def test_content_type_and_encoding_validate_against_the_genasync_schema(
    shared_reference: Path,
) -> None:
    # Only the GenAsync flavour declares these attributes; the attest one has just @id.
    genasync = _schema(shared_reference / "mycarenet/genasync/wsdl/businessContent.xsd")
    attest = _schema(
        shared_reference / "xsd/ehealth-mycarenet-attest/XSD/encryption/businessContent.xsd"
    )
    document = etree.fromstring(build_known_content(WITH_ATTRIBUTES))
    assert genasync.validate(document), genasync.error_log
    assert not attest.validate(document)


@pytest.mark.parametrize("content", [FULL, MINIMAL, WITH_ATTRIBUTES])
def test_round_trip(content: KnownContent) -> None:
    assert parse_known_content(build_known_content(content)) == content


def test_reads_what_other_clients_write() -> None:
    # A prefixed namespace, line-wrapped base64 and a comment, as Java encoders produce.
    wrapped = base64.encodebytes(PAYLOAD * 3).decode()
    document = (
        '<?xml version="1.0"?><ns2:EncryptedKnownContent xmlns:ns2="urn:be:cin:encrypted">'
        "<!-- sealed by the connector -->"
        f'<ns2:BusinessContent id="_1">\n{wrapped}</ns2:BusinessContent>'
        "</ns2:EncryptedKnownContent>"
    ).encode()
    parsed = parse_known_content(document)
    assert parsed.business_content == PAYLOAD * 3
    assert parsed.content_id == "_1"
    assert parsed.reply_to_etk is None
    assert parsed.xades is None


def _doc(inner: str, root: str = 'EncryptedKnownContent xmlns="urn:be:cin:encrypted"') -> bytes:
    return f"<{root}>{inner}</{root.split()[0]}>".encode()


@pytest.mark.parametrize(
    ("data", "xpath", "words"),
    [
        (b"not xml at all", "/", "not well-formed"),
        (b"", "/", "empty"),
        (
            b'<!DOCTYPE x [<!ENTITY a "b">]><EncryptedKnownContent xmlns="urn:be:cin:encrypted"/>',
            "/",
            "DOCTYPE",
        ),
        (_doc("", root="EncryptedKnownContent"), "/EncryptedKnownContent", "as root"),
        (_doc("", root='Other xmlns="urn:be:cin:encrypted"'), "/Other", "as root"),
        (_doc("<Xades>AA==</Xades>"), "/EncryptedKnownContent/BusinessContent", "missing"),
        (
            _doc("<BusinessContent>not*base64</BusinessContent>"),
            "/EncryptedKnownContent/BusinessContent",
            "not base64",
        ),
        (
            _doc("<BusinessContent>AA==</BusinessContent><Reply-to-Etk>AA==</Reply-to-Etk>"),
            "/EncryptedKnownContent/Reply-to-Etk",
            "out of order",
        ),
        (
            _doc("<BusinessContent>AA==</BusinessContent><BusinessContent>AA==</BusinessContent>"),
            "/EncryptedKnownContent/BusinessContent",
            "repeated",
        ),
        (
            _doc("<BusinessContent>AA==</BusinessContent><Extra/>"),
            "/EncryptedKnownContent/Extra",
            "unexpected element",
        ),
        (
            _doc('<BusinessContent Id="x">AA==</BusinessContent>'),
            "/EncryptedKnownContent/BusinessContent/@Id",
            "unknown attribute",
        ),
        (
            _doc("<BusinessContent><b>AA==</b></BusinessContent>"),
            "/EncryptedKnownContent/BusinessContent",
            "not child elements",
        ),
        (
            _doc("<BusinessContent>   </BusinessContent>"),
            "/EncryptedKnownContent/BusinessContent",
            "empty",
        ),
        (
            _doc("<BusinessContent>AA==</BusinessContent><Xades>AA=</Xades>"),
            "/EncryptedKnownContent/Xades",
            "not base64",
        ),
        (_doc("stray<BusinessContent>AA==</BusinessContent>"), "/EncryptedKnownContent", "text"),
    ],
    ids=[
        "not-xml",
        "empty",
        "doctype",
        "no-namespace",
        "wrong-root",
        "no-business-content",
        "bad-base64",
        "out-of-order",
        "repeated",
        "unknown-element",
        "unknown-attribute",
        "child-elements",
        "empty-payload",
        "bad-padding",
        "stray-text",
    ],
)
def test_bad_input_says_what_and_where(data: bytes, xpath: str, words: str) -> None:
    with pytest.raises(ContentError) as excinfo:
        parse_known_content(data)
    assert excinfo.value.xpath == xpath
    assert words in str(excinfo.value)


def test_build_refuses_an_id_that_is_not_an_xsd_id() -> None:
    with pytest.raises(ContentError, match="@id"):
        build_known_content(KnownContent(b"x", None, None, content_id="1 not:an id"))


def test_known_content_sealed_for_the_insurer_etk_and_back(tmp_path: Path) -> None:
    pki = TestPki.load_or_create(tmp_path)
    doctor = pki.issue_provider("10004001001", "85073003328", "Dr Chain")
    insurer_etk = build_etk(pki.insurer_encryption, pki.insurer_signing)
    doctor_etk = build_etk(doctor, pki.insurer_signing)
    request = KnownContent(
        business_content=PAYLOAD, reply_to_etk=doctor_etk, xades=None, content_id="_req"
    )

    sealed = seal(build_known_content(request), sender=doctor, recipients=[parse_etk(insurer_etk)])
    opened = unseal(sealed, recipient=pki.insurer_encryption, trusted_ca=pki.ca.cert)

    assert opened.signer == doctor.cert
    received = parse_known_content(opened.content)
    assert received == request
    # The insurer answers to the ETK it was given, and only the doctor can read the answer.
    assert received.reply_to_etk is not None
    answer = seal(
        build_known_content(KnownContent(b"<answer/>", None, None)),
        sender=pki.insurer_signing,
        recipients=[parse_etk(received.reply_to_etk)],
    )
    back = unseal(answer, recipient=doctor, trusted_ca=pki.ca.cert)
    assert parse_known_content(back.content).business_content == b"<answer/>"
