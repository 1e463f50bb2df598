"""The ETK depot where real clients call it (client-quirks 2.2 and refusal #16).

`/EtkDepot/v1` is the connector's (`endpoint.etk` = `$uddi{uddi:ehealth-fgov-be:business:
etkdepot:v1}`; EGK and EC hard-code the same path), unsigned. `/etee/v1/ETKDepot` is KH's
(`ws/GetETK.js`): SOAPAction "" and a SAML holder-of-key signature over the Body, which the
depot does not require but must not refuse.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from cryptography import x509
from lxml import etree

from simulator.codecs import etkdepot as codec
from simulator.security.pki import load_keystore
from simulator.security.wssecurity import sign_envelope_saml
from simulator.soap.envelope import new_envelope, serialize
from simulator.soap.namespaces import SOAP11
from tests.e2e.conftest import PASSWORD, Running

KH_PATH = "/etee/v1/ETKDepot"
CONNECTOR_PATH = "/EtkDepot/v1"


def _etk_of(raw: bytes) -> bytes:
    root = etree.fromstring(raw)
    response = root.find(f"{{{SOAP11}}}Body/{{{codec.PROTOCOL}}}GetEtkResponse")
    assert response is not None, raw
    return codec.read_etk(response)


def _kh_envelope(body_xml: str) -> bytes:
    """KH writes the envelope as text: SOAP-ENV prefix, wsu:Id on the Body."""
    return (
        '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">'
        "<SOAP-ENV:Header/>"
        '<SOAP-ENV:Body xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/'
        'oasis-200401-wss-wssecurity-utility-1.0.xsd" wsu:Id="id-4f1c">'
        f"{body_xml}</SOAP-ENV:Body></SOAP-ENV:Envelope>"
    ).encode()


KH_REQUEST = (
    '<etkdepot:GetEtkRequest xmlns:etkdepot="urn:be:fgov:ehealth:etkdepot:1_0:protocol">'
    "<etkdepot:SearchCriteria><etkdepot:Identifier>"
    "<etkdepot:Type>CBE</etkdepot:Type><etkdepot:Value>0820563481</etkdepot:Value>"
    "<etkdepot:ApplicationID>MYCARENET</etkdepot:ApplicationID>"
    "</etkdepot:Identifier></etkdepot:SearchCriteria></etkdepot:GetEtkRequest>"
)


@pytest.mark.parametrize("path", [CONNECTOR_PATH, KH_PATH])
async def test_both_paths_serve_the_insurer_etk_unsigned(running: Running, path: str) -> None:
    async with running.client() as client:
        status, raw = await client.post_raw(path, _kh_envelope(KH_REQUEST), "")
    assert status == 200
    assert _etk_of(raw) == running.sim.insurer_etk


async def test_kh_saml_signed_request_is_served(running: Running) -> None:
    async with running.client() as client:
        assertion = await client.token()
        envelope = etree.fromstring(_kh_envelope(KH_REQUEST))
        identity = load_keystore(running.keystore, PASSWORD)
        sign_envelope_saml(envelope, assertion, identity.key, now=datetime.now(UTC))
        status, raw = await client.post_raw(KH_PATH, serialize(envelope), "")
    assert status == 200, raw
    assert _etk_of(raw) == running.sim.insurer_etk


async def test_a_providers_etk_at_the_etee_path(running: Running) -> None:
    async with running.client() as client:
        own = await client.own_etk()  # registers the GP's ETK through the connector path
        request = codec.build_request("SSIN", running.provider.ssin, None)
        status, raw = await client.post_raw(KH_PATH, serialize(new_envelope(request)), None)
    assert status == 200
    assert _etk_of(raw) == own


async def test_an_unknown_identifier_is_a_status_not_a_fault(running: Running) -> None:
    request = codec.build_request("NIHII-PHYSICIAN", "99999999999", None)
    async with running.client() as client:
        status, raw = await client.post_raw(KH_PATH, serialize(new_envelope(request)), "")
    assert status == 200
    response = etree.fromstring(raw).find(f"{{{SOAP11}}}Body/{{{codec.PROTOCOL}}}GetEtkResponse")
    assert response is not None
    assert response.find(f"{{{codec.PROTOCOL}}}ETK") is None
    assert "no ETK registered" in (response.findtext(f".//{{{codec.CORE}}}StatusMessage") or "")


async def test_the_etk_is_a_certificate_bundle(running: Running) -> None:
    async with running.client() as client:
        _, raw = await client.post_raw(KH_PATH, _kh_envelope(KH_REQUEST), '""')
    etk = _etk_of(raw)
    # The ETK is a CMS SignedData over the encryption certificate (checked further in
    # test_security with openssl); here only that it is DER and not empty.
    assert etk[:1] == b"\x30" and len(etk) > 500
    assert base64.b64encode(etk)
    assert isinstance(running.sim.pki.insurer_encryption.cert, x509.Certificate)
