"""WS-Security: signing like the eHealth connector, verification, attacks, xmlsec1 interop."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from simulator.security import xmldsig
from simulator.security.saml import AssertionCache, SamlAttribute, build_assertion
from simulator.security.wssecurity import (
    SecurityError,
    Verdict,
    sign_envelope_saml,
    sign_envelope_x509,
    sign_response,
    verify_request,
)
from simulator.security.xmldsig import DS
from simulator.soap.parser import parse_xml
from tests.security.keys import (
    MESSAGE_SIGNATURE,
    NOW,
    SAML1,
    SOAP,
    WSSE,
    WSU,
    Party,
    issue,
    pki,
    xmlsec1,
    xmlsec1_verifies,
)

SAMPLES = "samples/wssecurity"


def _envelope() -> etree._Element:
    return etree.fromstring(
        f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Body>'
        '<t:Request xmlns:t="urn:test"><t:ssin>85073003328</t:ssin></t:Request>'
        "</soap:Body></soap:Envelope>"
    )


def _token(holder: Party, *, sts: Party | None = None, hours: int = 24) -> etree._Element:
    sts = sts or pki().sts
    return build_assertion(
        subject_cert=holder.cert,
        subject_name=holder.cert.subject.rfc4514_string(),
        attributes=[SamlAttribute("urn:be:fgov:person:ssin", "urn:ns", ("85073003328",))],
        issue_instant=NOW,
        not_before=NOW,
        not_on_or_after=NOW + timedelta(hours=hours),
        signer_key=sts.key,
        signer_cert=sts.cert,
    )


def _x509(signer: Party | None = None, now: datetime = NOW) -> etree._Element:
    signer = signer or pki().doctor
    envelope = _envelope()
    sign_envelope_x509(envelope, signer.key, signer.cert, now=now)
    return _wire(envelope)


def _saml(
    holder: Party | None = None, *, key_of: Party | None = None, token: etree._Element | None = None
) -> etree._Element:
    holder = holder or pki().doctor
    envelope = _envelope()
    sign_envelope_saml(
        envelope, token if token is not None else _token(holder), (key_of or holder).key, now=NOW
    )
    return _wire(envelope)


def _wire(envelope: etree._Element) -> etree._Element:
    """What the other side sees: bytes through the hardened parser."""
    return parse_xml(etree.tostring(envelope))


def _check(root: etree._Element, require: str = "x509", **kwargs: object) -> Verdict:
    options: dict[str, object] = {
        "ca_cert": pki().ca.cert,
        "sts_cert": pki().sts.cert,
        "now": NOW,
        "require": require,
    }
    options.update(kwargs)
    return verify_request(root, **options)  # type: ignore[arg-type]


def _fault(root: etree._Element, require: str = "x509", **kwargs: object) -> SecurityError:
    with pytest.raises(SecurityError) as caught:
        _check(root, require, **kwargs)
    return caught.value


def _security(root: etree._Element) -> etree._Element:
    found = root.find(f"{{{SOAP}}}Header/{{{WSSE}}}Security")
    assert found is not None
    return found


def _body(root: etree._Element) -> etree._Element:
    found = root.find(f"{{{SOAP}}}Body")
    assert found is not None
    return found


# -- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("curve", [False, True], ids=["rsa", "ec"])
def test_x509_envelope_verifies(curve: bool) -> None:
    signer = pki().nurse if curve else pki().doctor
    verdict = _check(_x509(signer))
    assert verdict.token_type == "x509"
    assert verdict.signer_cert == signer.cert
    assert verdict.assertion is None
    assert len(verdict.signed_ids) == 3  # Body, Timestamp, BST
    assert verdict.algorithm == (xmldsig.ECDSA_SHA256 if curve else xmldsig.RSA_SHA256)


@pytest.mark.parametrize("curve", [False, True], ids=["rsa", "ec"])
def test_saml_envelope_verifies_with_key_binding(curve: bool) -> None:
    holder = pki().nurse if curve else pki().doctor
    verdict = _check(_saml(holder), "saml")
    assert verdict.token_type == "saml"
    assert verdict.signer_cert == holder.cert
    assert verdict.assertion is not None
    assert dict(verdict.assertion.attributes)["urn:be:fgov:person:ssin"] == ("85073003328",)
    assert len(verdict.signed_ids) == 2  # Body, Timestamp


def test_header_layout_follows_the_connector() -> None:
    root = _saml()
    security = _security(root)
    assert security.get(f"{{{SOAP}}}mustUnderstand") == "1"
    assert [etree.QName(c).localname for c in security] == ["Timestamp", "Assertion", "Signature"]
    key_identifier = security.find(
        f"{{{DS}}}Signature/{{{DS}}}KeyInfo/{{{WSSE}}}SecurityTokenReference/{{{WSSE}}}KeyIdentifier"
    )
    assert key_identifier is not None
    assert key_identifier.text == security[1].get("AssertionID")
    assert _body(root).get(f"{{{WSU}}}Id")
    assert "ns0" not in etree.tostring(root).decode()  # wsu declared with its usual prefix


def test_assertion_is_copied_unchanged() -> None:
    token = _token(pki().doctor)
    before = xmldsig.c14n(token)
    root = _saml(token=token)
    assert xmldsig.c14n(_security(root)[1]) == before
    assert xmldsig.c14n(token) == before  # the caller's copy is untouched


def test_response_signed_by_the_insurer_verifies_on_the_client_side() -> None:
    envelope = _envelope()
    sign_response(envelope, pki().sts.key, pki().sts.cert, now=NOW, ttl=timedelta(minutes=10))
    verdict = verify_request(
        _wire(envelope), ca_cert=pki().ca.cert, sts_cert=None, now=NOW, require="x509"
    )
    assert verdict.signer_cert == pki().sts.cert


def test_timestamp_only_signature_is_enough_when_the_body_need_not_be_signed() -> None:
    # GenAsync signs the Timestamp only.
    root = _saml()
    security = _security(root)
    signature = security.find(f"{{{DS}}}Signature")
    assert signature is not None
    key_info = copy.deepcopy(signature.find(f"{{{DS}}}KeyInfo"))
    security.remove(signature)
    timestamp = security[0]
    xmldsig.sign(
        security,
        pki().doctor.key,
        [(timestamp.get(f"{{{WSU}}}Id") or "", timestamp)],
        key_info=key_info,
    )
    assert _check(root, "saml", body_must_be_signed=False).signed_ids == (
        timestamp.get(f"{{{WSU}}}Id"),
    )
    error = _fault(root, "saml")
    assert error.fault == "FailedCheck" and "soap:Body" in error.reason


def test_cache_is_filled_and_reused() -> None:
    cache = AssertionCache()
    token = _token(pki().doctor)
    _check(_saml(token=token), "saml", cache=cache)
    _check(_saml(token=token), "saml", cache=cache)
    assert len(cache) == 1


# -- attacks ----------------------------------------------------------------------------------


def test_wrapped_body_is_rejected() -> None:
    root = _x509()
    body = _body(root)
    wrapper = etree.SubElement(root.find(f"{{{SOAP}}}Header"), "{urn:evil}Wrapper")  # type: ignore[arg-type]
    wrapper.append(body)  # the signed Body, id intact, now in a header
    fresh = etree.SubElement(root, f"{{{SOAP}}}Body")
    etree.SubElement(fresh, "{urn:test}Request").text = "transfer everything"
    error = _fault(_wire(root))
    assert error.fault == "FailedCheck"
    assert "soap:Body" in error.reason


def test_wrapped_timestamp_is_rejected() -> None:
    # An old signed Timestamp parked elsewhere, a fresh unsigned one in the header.
    root = _x509(now=NOW - timedelta(hours=1))
    security = _security(root)
    old = security[0]
    etree.SubElement(root.find(f"{{{SOAP}}}Header"), "{urn:evil}Wrapper").append(old)  # type: ignore[arg-type]
    fresh = etree.Element(f"{{{WSU}}}Timestamp")
    etree.SubElement(fresh, f"{{{WSU}}}Created").text = "2026-03-02T10:00:00Z"
    etree.SubElement(fresh, f"{{{WSU}}}Expires").text = "2026-03-02T10:05:00Z"
    security.insert(0, fresh)
    error = _fault(_wire(root))
    assert error.fault == "FailedCheck"
    assert "Timestamp" in error.reason


def test_duplicate_ids_are_rejected() -> None:
    root = _x509()
    body_id = _body(root).get(f"{{{WSU}}}Id")
    decoy = etree.SubElement(root.find(f"{{{SOAP}}}Header"), "{urn:evil}Decoy")  # type: ignore[arg-type]
    decoy.set(f"{{{WSU}}}Id", body_id or "")
    error = _fault(_wire(root))
    assert error.fault == "InvalidSecurity"
    assert repr(body_id) in error.reason


def test_tampered_body_is_rejected() -> None:
    root = _saml()
    _body(root)[0][0].text = "00000000097"
    error = _fault(root, "saml")
    assert error.fault == "FailedCheck"


def test_tampered_assertion_attribute_is_rejected() -> None:
    root = _saml()
    value = _security(root).find(f".//{{{SAML1}}}AttributeValue")
    assert value is not None
    value.text = "00000000097"
    assert _fault(root, "saml").fault == "InvalidSecurityToken"


@pytest.mark.parametrize(
    "now", [NOW + timedelta(minutes=11), NOW - timedelta(minutes=6)], ids=["expired", "future"]
)
def test_timestamp_outside_its_window_is_rejected(now: datetime) -> None:
    assert _fault(_x509(), now=now).fault == "MessageExpired"


def test_expired_assertion_is_rejected() -> None:
    envelope = _envelope()
    later = NOW + timedelta(hours=2)
    sign_envelope_saml(envelope, _token(pki().doctor, hours=1), pki().doctor.key, now=later)
    error = _fault(_wire(envelope), "saml", now=later)
    assert error.fault == "InvalidSecurityToken"
    assert "expired" in error.reason


def test_assertion_from_another_sts_key_is_rejected() -> None:
    rogue = issue("eHealth STS", pki().ca)
    assert _fault(_saml(token=_token(pki().doctor, sts=rogue)), "saml").fault == (
        "InvalidSecurityToken"
    )


@pytest.mark.parametrize("party", ["stranger", "expired"])
def test_untrusted_or_expired_certificate_is_rejected(party: str) -> None:
    signer = getattr(pki(), party)
    assert _fault(_x509(signer)).fault == "FailedAuthentication"
    assert _fault(_saml(signer), "saml").fault == "FailedAuthentication"


@pytest.mark.parametrize("curve", [False, True], ids=["rsa-key", "ec-key"])
def test_holder_of_key_mismatch_is_rejected(curve: bool) -> None:
    # Someone else's (RSA) token, message signed with the attacker's own trusted key.
    intruder = issue("Intruder", pki().ca, curve=curve)
    root = _saml(pki().doctor, key_of=intruder)
    assert _fault(root, "saml").fault == "FailedCheck"


def test_unknown_assertion_reference_is_unavailable() -> None:
    root = _saml()
    key_identifier = _security(root).find(f".//{{{WSSE}}}KeyIdentifier")
    assert key_identifier is not None
    key_identifier.text = "_unknown"
    assert _fault(root, "saml").fault == "SecurityTokenUnavailable"


@pytest.mark.parametrize(
    ("path", "algorithm"),
    [
        ("ds:SignedInfo/ds:SignatureMethod", "http://www.w3.org/2000/09/xmldsig#hmac-sha1"),
        (
            "ds:SignedInfo/ds:Reference/ds:Transforms/ds:Transform",
            "http://www.w3.org/TR/1999/REC-xpath-19991116",
        ),
    ],
    ids=["hmac-sha1", "xpath"],
)
def test_disallowed_algorithm_is_rejected(path: str, algorithm: str) -> None:
    root = _x509()
    target = _security(root).find(f"ds:Signature/{path}", namespaces={"ds": DS})
    assert target is not None
    target.set("Algorithm", algorithm)
    error = _fault(root)
    assert error.fault == "InvalidSecurity"
    assert algorithm in error.reason


def test_two_security_headers_are_rejected() -> None:
    root = _x509()
    root.find(f"{{{SOAP}}}Header").append(copy.deepcopy(_security(root)))  # type: ignore[union-attr]
    assert _fault(root).fault == "InvalidSecurity"


def test_missing_timestamp_is_rejected() -> None:
    root = _x509()
    security = _security(root)
    security.remove(security[0])
    assert _fault(root).fault == "InvalidSecurity"


def test_saml_required_but_x509_sent() -> None:
    assert _fault(_x509(), "saml").fault == "InvalidSecurityToken"


# -- interop with xmlsec1 ---------------------------------------------------------------------


def _write(tmp_path: Path, name: str, root: etree._Element) -> Path:
    path = tmp_path / name
    path.write_bytes(etree.tostring(root))
    return path


@pytest.mark.parametrize("curve", [False, True], ids=["rsa", "ec"])
def test_xmlsec1_verifies_our_x509_envelope(curve: bool, tmp_path: Path) -> None:
    signer = pki().nurse if curve else pki().doctor
    _, cert = signer.write(tmp_path, "signer")
    root = _x509(signer)
    assert xmlsec1_verifies(_write(tmp_path, "good.xml", root), cert)
    _body(root)[0][0].text = "changed"
    assert not xmlsec1_verifies(_write(tmp_path, "bad.xml", root), cert)


@pytest.mark.parametrize("curve", [False, True], ids=["rsa", "ec"])
def test_xmlsec1_verifies_our_saml_envelope(curve: bool, tmp_path: Path) -> None:
    holder = pki().nurse if curve else pki().doctor
    _, holder_pem = holder.write(tmp_path, "holder")
    _, sts_pem = pki().sts.write(tmp_path, "sts")
    path = _write(tmp_path, "saml.xml", _saml(holder))
    assert xmlsec1_verifies(path, holder_pem, node_xpath=MESSAGE_SIGNATURE)
    assert xmlsec1_verifies(path, sts_pem)  # the first Signature: the STS one, in the header


X509_TEMPLATE = """<soap:Envelope xmlns:soap="{soap}"><soap:Header>
<wsse:Security xmlns:wsse="{wsse}" xmlns:wsu="{wsu}" soap:mustUnderstand="1">
<wsu:Timestamp wsu:Id="TS-1"><wsu:Created>2026-03-02T10:00:00Z</wsu:Created>
<wsu:Expires>2026-03-02T10:01:00Z</wsu:Expires></wsu:Timestamp>
{token}
<ds:Signature xmlns:ds="{ds}"><ds:SignedInfo>
<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#">
<ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="soap"/>
</ds:CanonicalizationMethod>
<ds:SignatureMethod Algorithm="{method}"/>
<ds:Reference URI="#id-1"><ds:Transforms>
<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>
<ds:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/><ds:DigestValue/>
</ds:Reference>
<ds:Reference URI="#TS-1"><ds:Transforms>
<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#">
<ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="wsse soap"/>
</ds:Transform></ds:Transforms>
<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/>
</ds:Reference></ds:SignedInfo><ds:SignatureValue/>
<ds:KeyInfo><wsse:SecurityTokenReference>{reference}</wsse:SecurityTokenReference></ds:KeyInfo>
</ds:Signature></wsse:Security></soap:Header>
<soap:Body xmlns:wsu="{wsu}" wsu:Id="id-1"><t:Request xmlns:t="urn:test">hi</t:Request></soap:Body>
</soap:Envelope>"""
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64 = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)
SAML_ID = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.0#SAMLAssertionID"


def _xmlsec1_signed(tmp_path: Path, signer: Party, token: str, reference: str) -> etree._Element:
    method = xmldsig.ECDSA_SHA256 if signer is pki().nurse else xmldsig.RSA_SHA1
    text = X509_TEMPLATE.format(
        soap=SOAP, wsse=WSSE, wsu=WSU, ds=DS, token=token, reference=reference, method=method
    )
    template = tmp_path / "template.xml"
    template.write_text(text)
    key, _ = signer.write(tmp_path, "signer")
    signed = tmp_path / "signed.xml"
    result = xmlsec1(
        "--sign",
        "--privkey-pem",
        str(key),
        "--node-xpath",
        MESSAGE_SIGNATURE,
        "--output",
        str(signed),
        str(template),
    )
    assert result.returncode == 0, result.stderr
    return parse_xml(signed.read_bytes())


def test_we_verify_an_x509_envelope_signed_by_xmlsec1(tmp_path: Path) -> None:
    der = base64.b64encode(pki().doctor.cert.public_bytes(Encoding.DER)).decode()
    token = (
        f'<wsse:BinarySecurityToken EncodingType="{BASE64}" ValueType="{X509V3}" '
        f'wsu:Id="X509-1">{der}</wsse:BinarySecurityToken>'
    )
    reference = f'<wsse:Reference URI="#X509-1" ValueType="{X509V3}"/>'
    root = _xmlsec1_signed(tmp_path, pki().doctor, token, reference)
    verdict = _check(root)
    assert verdict.algorithm == xmldsig.RSA_SHA1
    assert verdict.signed_ids == ("id-1", "TS-1")


def test_we_verify_a_saml_envelope_signed_by_xmlsec1_with_an_ec_key(tmp_path: Path) -> None:
    token_element = _token(pki().nurse)
    token = etree.tostring(token_element).decode()
    reference = (
        f'<wsse:KeyIdentifier ValueType="{SAML_ID}">{token_element.get("AssertionID")}'
        "</wsse:KeyIdentifier>"
    )
    root = _xmlsec1_signed(tmp_path, pki().nurse, token, reference)
    verdict = _check(root, "saml")
    assert verdict.algorithm == xmldsig.ECDSA_SHA256
    assert verdict.signer_cert == pki().nurse.cert


# -- eHealth connector samples (WSS4J) --------------------------------------------------------


def _sample(shared_reference: Path, name: str) -> etree._Element:
    data = (shared_reference / SAMPLES / name).read_bytes()
    data = data[: data.rindex(b">") + 1]  # the SAML sample has a stray byte after the envelope
    # Indented after signing: drop the indentation to get the signed bytes back.
    return etree.fromstring(data, etree.XMLParser(remove_blank_text=True))


def _bst_cert(root: etree._Element) -> x509.Certificate:
    text = root.findtext(f".//{{{WSSE}}}BinarySecurityToken") or ""
    return x509.load_der_x509_certificate(base64.b64decode(text))


def test_wss4j_x509_sample_verifies_at_its_time(shared_reference: Path) -> None:
    root = _sample(shared_reference, "wss-x509-bst-signed-example.xml")
    self_signed = _bst_cert(root)
    then = datetime(2023, 12, 12, 6, 58, 30, tzinfo=UTC)
    verdict = _check(root, ca_cert=self_signed, sts_cert=None, now=then)
    assert verdict.algorithm == xmldsig.RSA_SHA1
    assert len(verdict.signed_ids) == 3


@pytest.mark.parametrize(
    ("change", "fault"),
    [
        (lambda kw: kw.update(now=NOW), "MessageExpired"),
        (lambda kw: kw.update(ca_cert=pki().ca.cert), "FailedAuthentication"),
    ],
    ids=["today", "our-ca"],
)
def test_wss4j_x509_sample_is_rejected_for_the_right_reason(
    shared_reference: Path, change: Callable[[dict[str, object]], None], fault: str
) -> None:
    root = _sample(shared_reference, "wss-x509-bst-signed-example.xml")
    options: dict[str, object] = {
        "ca_cert": _bst_cert(root),
        "sts_cert": None,
        "now": datetime(2023, 12, 12, 6, 58, 30, tzinfo=UTC),
    }
    change(options)
    assert _fault(root, "x509", **options).fault == fault


def test_wss4j_saml_sample_is_read_and_its_stub_assertion_refused(shared_reference: Path) -> None:
    root = _sample(shared_reference, "wss-saml11-hok-signed-example.xml")
    then = datetime(2023, 12, 12, 6, 29, 0, tzinfo=UTC)
    error = _fault(root, "saml", now=then)
    assert error.fault == "InvalidSecurityToken"  # the sample's Assertion is an empty stub
    assert "_42e7a00652420d86ee884f295a3fbf02" in error.reason
    assert _fault(root, "saml").fault == "MessageExpired"
