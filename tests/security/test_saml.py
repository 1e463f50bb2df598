"""SAML 1.1 holder-of-key assertions: shape, STS signature, validity, cache, xmlsec1 interop."""

from __future__ import annotations

import copy
import re
from datetime import timedelta
from pathlib import Path

import pytest
from lxml import etree

from simulator.security import saml, xmldsig
from simulator.security.saml import (
    AssertionCache,
    SamlAttribute,
    build_assertion,
    parse_and_verify_assertion,
)
from simulator.security.xmldsig import DS, SecurityError
from tests.security.keys import NOW, SAML1, Party, issue, pki, xmlsec1, xmlsec1_verifies

S = f"{{{SAML1}}}"
SSIN = "urn:be:fgov:person:ssin"
NIHII = "urn:be:fgov:person:ssin:ehealth:1.0:nihii:physiotherapist:nihii11"
ATTRIBUTES = [
    SamlAttribute(SSIN, "urn:be:fgov:identification-namespace", ("85073003328",)),
    SamlAttribute(NIHII, "urn:be:fgov:certified-namespace:ehealth", ("50004001001",)),
    SamlAttribute("urn:test:multi", "urn:test", ("a", "b")),
]


def _assertion(
    holder: Party | None = None, sts: Party | None = None, hours: int = 24
) -> etree._Element:
    holder = holder or pki().doctor
    sts = sts or pki().sts
    return build_assertion(
        subject_cert=holder.cert,
        subject_name=holder.cert.subject.rfc4514_string(),
        attributes=ATTRIBUTES,
        issue_instant=NOW,
        not_before=NOW,
        not_on_or_after=NOW + timedelta(hours=hours),
        signer_key=sts.key,
        signer_cert=sts.cert,
    )


def _verify(element: etree._Element, **kwargs: object) -> saml.VerifiedAssertion:
    options: dict[str, object] = {"sts_cert": pki().sts.cert, "now": NOW, "cache": None}
    options.update(kwargs)
    return parse_and_verify_assertion(element, **options)  # type: ignore[arg-type]


# -- shape ------------------------------------------------------------------------------------


def test_assertion_has_the_sts_shape() -> None:
    assertion = _assertion()
    assert assertion.get("MajorVersion") == "1" and assertion.get("MinorVersion") == "1"
    assert assertion.get("Issuer") == "urn:be:fgov:ehealth:sts:1_0"
    assert re.fullmatch(r"_[0-9a-f]{32}", assertion.get("AssertionID") or "")
    children = [etree.QName(c).localname for c in assertion]
    assert children == [
        "Conditions",
        "AuthenticationStatement",
        "AttributeStatement",
        "Signature",
    ]
    statement = assertion.find(f"{S}AuthenticationStatement")
    assert statement is not None
    assert statement.get("AuthenticationMethod") == "urn:oasis:names:tc:SAML:1.0:am:X509-PKI"
    confirmation = statement.find(f"{S}Subject/{S}SubjectConfirmation")
    assert confirmation is not None
    assert (
        confirmation.findtext(f"{S}ConfirmationMethod")
        == "urn:oasis:names:tc:SAML:1.0:cm:holder-of-key"
    )
    assert (
        confirmation.find(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate") is not None
    )
    values = [
        (a.get("AttributeName"), [v.text for v in a])
        for a in assertion.iterfind(f"{S}AttributeStatement/{S}Attribute")
    ]
    assert values[2] == ("urn:test:multi", ["a", "b"])


def test_assertion_ids_are_unique() -> None:
    assert _assertion().get("AssertionID") != _assertion().get("AssertionID")


def test_assertion_is_valid_against_the_official_saml11_schema(shared_reference: Path) -> None:
    xsd = shared_reference / "xsd/external/XSD/oasis-sstc-saml-schema-assertion-1.1.xsd"
    schema = etree.XMLSchema(etree.parse(str(xsd)))
    assertion = _assertion()
    assert schema.validate(assertion), schema.error_log


# -- verification -----------------------------------------------------------------------------


def test_verified_assertion_exposes_holder_period_and_attributes() -> None:
    verified = _verify(_reparse(_assertion(holder=pki().nurse)))
    assert verified.holder_cert == pki().nurse.cert
    assert verified.not_before == NOW
    assert verified.not_on_or_after == NOW + timedelta(hours=24)
    assert dict(verified.attributes)[SSIN] == ("85073003328",)
    assert dict(verified.attributes)["urn:test:multi"] == ("a", "b")


def test_ec_sts_key_is_supported() -> None:
    sts = issue("EC STS", pki().ca, curve=True)
    assert _verify(_assertion(sts=sts), sts_cert=sts.cert).assertion_id


def test_tampered_attribute_is_rejected() -> None:
    assertion = _reparse(_assertion())
    value = assertion.find(f"{S}AttributeStatement/{S}Attribute/{S}AttributeValue")
    assert value is not None
    value.text = "00000000097"
    with pytest.raises(SecurityError) as caught:
        _verify(assertion)
    assert caught.value.fault == "InvalidSecurityToken"
    assert "modified" in caught.value.reason


def test_assertion_from_another_sts_key_is_rejected() -> None:
    rogue = issue("eHealth STS", pki().ca)  # same name, other key
    with pytest.raises(SecurityError) as caught:
        _verify(_assertion(sts=rogue))
    assert caught.value.fault == "InvalidSecurityToken"


@pytest.mark.parametrize(
    ("offset", "ok"),
    [
        (timedelta(minutes=-4), True),  # clock skew tolerated
        (timedelta(minutes=-6), False),  # not yet valid
        (timedelta(hours=24, minutes=4), True),
        (timedelta(hours=24, minutes=5), False),  # expired
    ],
)
def test_conditions_period_with_five_minutes_skew(offset: timedelta, ok: bool) -> None:
    assertion = _assertion()
    if ok:
        _verify(assertion, now=NOW + offset)
        return
    with pytest.raises(SecurityError) as caught:
        _verify(assertion, now=NOW + offset)
    assert caught.value.fault == "InvalidSecurityToken"


def _resign(assertion: etree._Element, target: etree._Element) -> None:
    signature = assertion.find(f"{{{DS}}}Signature")
    assert signature is not None
    assertion.remove(signature)
    target_id = target.get("ID") or target.get("AssertionID") or ""
    xmldsig.sign(assertion, pki().sts.key, [(target_id, target)])


def test_signature_must_cover_the_assertion_itself() -> None:
    # Genuinely STS-signed, but only over the AttributeStatement: Conditions are unprotected.
    assertion = _assertion()
    statement = assertion.find(f"{S}AttributeStatement")
    assert statement is not None
    statement.set("ID", "part")
    _resign(assertion, statement)
    with pytest.raises(SecurityError) as caught:
        _verify(assertion)
    assert caught.value.fault == "InvalidSecurityToken"
    assert "does not cover" in caught.value.reason


def test_not_holder_of_key_is_rejected() -> None:
    # A bearer token re-signed by the STS: shape, not signature, is what fails.
    assertion = _assertion()
    method = assertion.find(f".//{S}ConfirmationMethod")
    assert method is not None
    method.text = "urn:oasis:names:tc:SAML:1.0:cm:bearer"
    _resign(assertion, assertion)
    with pytest.raises(SecurityError) as caught:
        _verify(assertion)
    assert "holder-of-key" in caught.value.reason


# -- cache ------------------------------------------------------------------------------------


def test_cache_checks_the_sts_signature_once_per_token(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = AssertionCache()
    assertion = _assertion()
    first = _verify(assertion, cache=cache)
    monkeypatch.setattr(saml, "_verify", _must_not_run)
    assert _verify(copy.deepcopy(assertion), cache=cache) == first
    assert len(cache) == 1


def test_cache_still_checks_the_period_on_a_hit() -> None:
    cache = AssertionCache()
    assertion = _assertion()
    _verify(assertion, cache=cache)
    with pytest.raises(SecurityError):
        _verify(assertion, cache=cache, now=NOW + timedelta(days=2))


def test_cache_misses_for_a_modified_copy_and_for_another_sts() -> None:
    cache = AssertionCache()
    assertion = _assertion()
    _verify(assertion, cache=cache)
    tampered = copy.deepcopy(assertion)
    tampered.find(f".//{S}AttributeValue").text = "x"  # type: ignore[union-attr]
    with pytest.raises(SecurityError):
        _verify(tampered, cache=cache)
    with pytest.raises(SecurityError):  # a cached token does not vouch for another STS
        _verify(assertion, cache=cache, sts_cert=issue("Other STS", pki().ca).cert)


def test_cache_is_bounded_lru(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = AssertionCache(max_size=2)
    a, b, c = _assertion(), _assertion(), _assertion()
    for token in (a, b, a, c):  # a is used again before c arrives: b is the one evicted
        _verify(token, cache=cache)
    assert len(cache) == 2
    checked: list[str] = []
    real = saml._verify

    def counting(element: etree._Element, assertion_id: str, sts_cert: object) -> object:
        checked.append(assertion_id)
        return real(element, assertion_id, sts_cert)  # type: ignore[arg-type]

    monkeypatch.setattr(saml, "_verify", counting)
    for token in (a, c, b):
        _verify(token, cache=cache)
    assert checked == [b.get("AssertionID")]


def _must_not_run(*args: object) -> saml.VerifiedAssertion:
    raise AssertionError("the STS signature was verified again despite the cache")


def _reparse(element: etree._Element) -> etree._Element:
    return etree.fromstring(etree.tostring(element))


# -- interop with xmlsec1 ---------------------------------------------------------------------


@pytest.mark.parametrize("curve", [False, True], ids=["rsa-sts", "ec-sts"])
def test_xmlsec1_verifies_our_assertion(curve: bool, tmp_path: Path) -> None:
    sts = issue("STS", pki().ca, curve=curve) if curve else pki().sts
    _, cert = sts.write(tmp_path, "sts")
    good = tmp_path / "assertion.xml"
    good.write_bytes(etree.tostring(_assertion(sts=sts)))
    assert xmlsec1_verifies(good, cert)
    _, other = pki().doctor.write(tmp_path, "doctor")
    assert not xmlsec1_verifies(good, other)


def test_we_verify_an_assertion_signed_by_xmlsec1(tmp_path: Path) -> None:
    """A template with indentation around the Signature, signed by xmlsec1 (enveloped)."""
    assertion = _assertion()
    signature = assertion.find(f"{{{DS}}}Signature")
    assert signature is not None
    assertion.remove(signature)
    for element in assertion.iter():
        element.tail = "\n  "
    assertion.append(etree.fromstring(TEMPLATE.replace("ID", assertion.get("AssertionID") or "")))
    template = tmp_path / "template.xml"
    template.write_bytes(etree.tostring(assertion))
    key, _ = pki().sts.write(tmp_path, "sts")
    signed = tmp_path / "signed.xml"
    result = xmlsec1("--sign", "--privkey-pem", str(key), "--output", str(signed), str(template))
    assert result.returncode == 0, result.stderr
    verified = _verify(etree.parse(str(signed)).getroot())
    assert dict(verified.attributes)[SSIN] == ("85073003328",)


TEMPLATE = f"""<ds:Signature xmlns:ds="{DS}">
    <ds:SignedInfo>
      <ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
      <ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
      <ds:Reference URI="#ID">
        <ds:Transforms>
          <ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
          <ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
        </ds:Transforms>
        <ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
        <ds:DigestValue/>
      </ds:Reference>
    </ds:SignedInfo>
    <ds:SignatureValue/>
  </ds:Signature>"""
