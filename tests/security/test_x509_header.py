"""The X.509-token header written from its per-certificate text template (every answer's).

The round trips, tampering and xmlsec1 checks of `test_wssecurity.py` hold for it too; these
tests pin what the template changes: a stable token, envelopes of any prefix, ids that need
escaping, and an envelope whose Body and Header are kept as they are.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from simulator.security.wssecurity import X509V3, sign_envelope_x509, verify_request
from simulator.security.xmldsig import DS
from simulator.soap.envelope import new_envelope
from simulator.soap.parser import parse_xml
from tests.security.keys import NOW, SOAP, WSSE, WSU, Party, pki, xmlsec1_verifies

_TOKEN = f"{{{WSSE}}}Security/{{{WSSE}}}BinarySecurityToken"


def _signed(envelope: etree._Element, signer: Party | None = None) -> etree._Element:
    signer = signer or pki().doctor
    sign_envelope_x509(envelope, signer.key, signer.cert, now=NOW)
    return parse_xml(etree.tostring(envelope))


def _verified_ids(root: etree._Element) -> tuple[str, ...]:
    verdict = verify_request(root, ca_cert=pki().ca.cert, sts_cert=None, now=NOW, require="x509")
    return verdict.signed_ids


def _payload() -> etree._Element:
    return etree.fromstring(
        '<t:Request xmlns:t="urn:test"><t:ssin>85073003328</t:ssin></t:Request>'
    )


def _token_id(root: etree._Element) -> str:
    token = root.find(f"{{{SOAP}}}Header/{_TOKEN}")
    assert token is not None and token.get("ValueType") == X509V3
    return token.get(f"{{{WSU}}}Id") or ""


def test_the_token_id_is_the_certificates_and_the_rest_is_fresh_per_message() -> None:
    first = _signed(new_envelope(_payload()))
    second = _signed(new_envelope(_payload()))
    other = _signed(new_envelope(_payload()), pki().nurse)
    assert _token_id(first) == _token_id(second) != _token_id(other)
    body_first, timestamp_first, token_first = _verified_ids(first)
    body_second, timestamp_second, token_second = _verified_ids(second)
    assert token_first == token_second == _token_id(first)
    assert body_first != body_second and timestamp_first != timestamp_second


def test_an_envelope_in_the_default_namespace_is_signed_and_xmlsec1_agrees(
    tmp_path: Path,
) -> None:
    envelope = etree.fromstring(
        f'<Envelope xmlns="{SOAP}"><Header/><Body>'
        '<t:Request xmlns:t="urn:test">x</t:Request></Body></Envelope>'
    )
    root = _signed(envelope)
    assert len(_verified_ids(root)) == 3
    document = tmp_path / "default-namespace.xml"
    document.write_bytes(etree.tostring(root))
    _, cert = pki().doctor.write(tmp_path, "signer")
    assert xmlsec1_verifies(document, cert)


def test_a_body_id_that_needs_escaping_is_signed_as_it_reads() -> None:
    envelope = new_envelope(_payload())
    body = envelope.find(f"{{{SOAP}}}Body")
    assert body is not None
    body.set(f"{{{WSU}}}Id", 'body&<"\tid')
    root = _signed(envelope)
    assert _verified_ids(root)[0] == 'body&<"\tid'


def test_the_body_of_a_new_envelope_is_signed_in_place() -> None:
    envelope = new_envelope(_payload())
    body = envelope[1]
    _signed(envelope)
    assert envelope[1] is body  # declared wsu up front: no rebuilt Body
    assert body.get(f"{{{WSU}}}Id")


def test_other_header_blocks_stay_and_the_soap_prefix_is_declared_once() -> None:
    block = etree.fromstring('<wsa:To xmlns:wsa="http://www.w3.org/2005/08/addressing">x</wsa:To>')
    root = _signed(new_envelope(_payload(), [block]))
    header = root.find(f"{{{SOAP}}}Header")
    assert header is not None
    assert [etree.QName(child).localname for child in header] == ["To", "Security"]
    assert len(_verified_ids(root)) == 3
    document = etree.tostring(root).decode()
    assert document.count(f'xmlns:soap="{SOAP}"') == 1  # the Security header inherits it
    assert document.count(f'xmlns:ds="{DS}"') == 1


@pytest.mark.parametrize("curve", [False, True], ids=["rsa", "ec"])
def test_a_changed_timestamp_breaks_the_signature(curve: bool) -> None:
    root = _signed(new_envelope(_payload()), pki().nurse if curve else pki().doctor)
    created = root.find(f"{{{SOAP}}}Header/{{{WSSE}}}Security/{{{WSU}}}Timestamp/{{{WSU}}}Created")
    assert created is not None and created.text
    created.text = created.text.replace(":00.000Z", ":01.000Z")
    with pytest.raises(Exception, match="digest of Reference"):
        _verified_ids(root)
