"""Enveloped signatures on a samlp:Request: what verifies and what wrapping tries."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from simulator.security import xmldsig
from simulator.security.enveloped import verify_enveloped
from simulator.security.xmldsig import DS, SecurityError
from tests.security.keys import NOW, Party, pki

SAMLP = "urn:oasis:names:tc:SAML:1.0:protocol"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"


def _signed(signer: Party, request_id: str = "uuid-1") -> etree._Element:
    """A soap:Envelope whose samlp:Request carries its own enveloped signature."""
    envelope = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"soap": SOAP})
    body = etree.SubElement(envelope, f"{{{SOAP}}}Body")
    request = etree.SubElement(
        body, f"{{{SAMLP}}}Request", nsmap={"samlp": SAMLP}, RequestID=request_id
    )
    etree.SubElement(request, f"{{{SAMLP}}}AttributeQuery").text = "asked"
    xmldsig.sign(
        request,
        signer.key,
        [(request_id, request)],
        key_info=xmldsig.x509_key_info(signer.cert.public_bytes(Encoding.DER)),
        index=0,
    )
    return envelope


def _request(envelope: etree._Element) -> etree._Element:
    found = envelope.find(f".//{{{SAMLP}}}Request")
    assert found is not None
    return found


def _verify(envelope: etree._Element) -> str:
    verdict = verify_enveloped(
        _request(envelope), id_attribute="RequestID", ca_cert=pki().ca.cert, now=NOW
    )
    return verdict.signer_cert.subject.rfc4514_string()


@pytest.mark.parametrize("signer", ["doctor", "nurse"])  # RSA and EC
def test_a_signed_request_verifies(signer: str) -> None:
    party: Party = getattr(pki(), signer)
    assert _verify(_signed(party)) == party.cert.subject.rfc4514_string()


def test_a_changed_request_fails_the_digest() -> None:
    envelope = _signed(pki().doctor)
    query = _request(envelope).find(f"{{{SAMLP}}}AttributeQuery")
    assert query is not None
    query.text = "asked for more"
    with pytest.raises(SecurityError, match="does not match") as raised:
        _verify(envelope)
    assert raised.value.fault == "FailedCheck"


def test_a_second_element_with_the_request_id_is_refused() -> None:
    envelope = _signed(pki().doctor)
    header = etree.Element(f"{{{SOAP}}}Header")
    envelope.insert(0, header)
    header.append(copy.deepcopy(_request(envelope)))  # the signed original, kept aside
    with pytest.raises(SecurityError, match="also carried by"):
        _verify(envelope)


def test_an_id_attribute_of_another_kind_with_the_same_value_is_refused() -> None:
    envelope = _signed(pki().doctor)
    etree.SubElement(envelope, "{urn:attacker}Decoy", ID="uuid-1")
    with pytest.raises(SecurityError, match="also carried by"):
        _verify(envelope)


def test_a_reference_to_the_whole_document_is_refused() -> None:
    envelope = _signed(pki().doctor)
    reference = _request(envelope).find(f"{{{DS}}}Signature/{{{DS}}}SignedInfo/{{{DS}}}Reference")
    assert reference is not None
    reference.set("URI", "")
    with pytest.raises(SecurityError):
        _verify(envelope)


def test_two_signatures_are_ambiguous() -> None:
    envelope = _signed(pki().doctor)
    request = _request(envelope)
    signature = request.find(f"{{{DS}}}Signature")
    assert signature is not None
    request.append(copy.deepcopy(signature))
    with pytest.raises(SecurityError, match="several ds:Signature"):
        _verify(envelope)


@pytest.mark.parametrize(
    ("signer", "reason"), [("stranger", "not issued"), ("expired", "not valid")]
)
def test_a_signer_outside_the_ca_or_its_validity_is_refused(signer: str, reason: str) -> None:
    envelope = _signed(getattr(pki(), signer))
    with pytest.raises(SecurityError, match=reason) as raised:
        _verify(envelope)
    assert raised.value.fault == "FailedAuthentication"


def test_an_unsigned_request_is_refused() -> None:
    envelope = _signed(pki().doctor)
    request = _request(envelope)
    signature = request.find(f"{{{DS}}}Signature")
    assert signature is not None
    request.remove(signature)
    with pytest.raises(SecurityError, match="is not signed"):
        _verify(envelope)


def test_the_validity_window_is_the_time_given() -> None:
    """Wire time is passed in: a moment before the certificate was valid is refused."""
    envelope = _signed(pki().doctor)
    with pytest.raises(SecurityError):
        verify_enveloped(
            _request(envelope),
            id_attribute="RequestID",
            ca_cert=pki().ca.cert,
            now=NOW - timedelta(days=60),
        )
