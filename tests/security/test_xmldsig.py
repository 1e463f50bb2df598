"""XML-DSig core: id indexing, sign/verify round trips, allow-listed algorithms, interop."""

from __future__ import annotations

import base64
import copy
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from simulator.security import xmldsig
from simulator.security.xmldsig import DS, SecurityError
from tests.security.keys import WSU, pki, xmlsec1, xmlsec1_verifies

DOC = (
    b'<r:Root xmlns:r="urn:test" xmlns:wsu="' + WSU.encode() + b'">'
    b'<r:Part wsu:Id="p1">one <r:b>bold</r:b></r:Part>'
    b'<r:Part Id="p2">two</r:Part>'
    b"</r:Root>"
)


PART_IDS = ("--id-attr:Id", "urn:test:Part")


def _doc() -> etree._Element:
    return etree.fromstring(DOC)


def _signed(curve: bool = False) -> tuple[etree._Element, etree._Element]:
    root = _doc()
    party = pki().nurse if curve else pki().doctor
    parts = root.findall("{urn:test}Part")
    signature = xmldsig.sign(root, party.key, [("p1", parts[0]), ("p2", parts[1])])
    return root, signature


def _reparse(root: etree._Element) -> etree._Element:
    return etree.fromstring(etree.tostring(root))


def _doctor_key() -> xmldsig.VerifyingKey:
    return xmldsig.public_key_of(pki().doctor.cert, "doctor")


def _signature(root: etree._Element) -> etree._Element:
    found = root.find(f"{{{DS}}}Signature")
    assert found is not None
    return found


# -- index_ids --------------------------------------------------------------------------------


def test_index_ids_knows_the_four_id_attributes() -> None:
    root = etree.fromstring(
        f'<a xmlns:wsu="{WSU}"><b wsu:Id="w"/><c Id="i"/><d AssertionID="s1"/><e ID="s2"/></a>'
    )
    ids = xmldsig.index_ids(root)
    assert {key: etree.QName(el).localname for key, el in ids.items()} == {
        "w": "b",
        "i": "c",
        "s1": "d",
        "s2": "e",
    }


def test_index_ids_refuses_a_duplicate_naming_it() -> None:
    root = etree.fromstring(f'<a xmlns:wsu="{WSU}"><b wsu:Id="x"/><c ID="x"/></a>')
    with pytest.raises(SecurityError) as caught:
        xmldsig.index_ids(root)
    assert caught.value.fault == "InvalidSecurity"
    assert "'x'" in caught.value.reason


def test_one_element_may_repeat_its_own_id_in_two_attributes() -> None:
    root = etree.fromstring(f'<a xmlns:wsu="{WSU}"><b wsu:Id="x" Id="x"/></a>')
    assert etree.QName(xmldsig.index_ids(root)["x"]).localname == "b"


# -- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("curve", [False, True], ids=["rsa", "ec"])
def test_sign_then_verify_reports_covered_elements(curve: bool) -> None:
    root, _ = _signed(curve)
    root = _reparse(root)
    party = pki().nurse if curve else pki().doctor
    result = xmldsig.verify(
        _signature(root), xmldsig.public_key_of(party.cert, "t"), xmldsig.index_ids(root)
    )
    assert result.ids == ("#p1", "#p2")
    assert [e.text for e in result.covered] == ["one ", "two"]
    assert result.algorithm == (xmldsig.ECDSA_SHA256 if curve else xmldsig.RSA_SHA256)


def test_ecdsa_signature_value_is_raw_r_and_s() -> None:
    _, signature = _signed(curve=True)
    value = base64.b64decode(signature.findtext(f"{{{DS}}}SignatureValue") or "")
    assert len(value) == 64  # P-256: 32-byte r || 32-byte s, not DER


def test_wrong_key_fails_check() -> None:
    root, signature = _signed()
    with pytest.raises(SecurityError) as caught:
        xmldsig.verify(signature, pki().sts.cert.public_key(), xmldsig.index_ids(root))  # type: ignore[arg-type]
    assert caught.value.fault == "FailedCheck"


def test_modified_content_fails_its_digest() -> None:
    root, signature = _signed()
    root.find("{urn:test}Part/{urn:test}b").text = "BOLD"  # type: ignore[union-attr]
    with pytest.raises(SecurityError) as caught:
        xmldsig.verify(signature, _doctor_key(), xmldsig.index_ids(root))
    assert caught.value.fault == "FailedCheck"
    assert "#p1" in caught.value.reason


def test_rsa_method_with_an_ec_key_fails_check() -> None:
    root, signature = _signed(curve=False)
    with pytest.raises(SecurityError) as caught:
        xmldsig.verify(signature, pki().nurse.cert.public_key(), xmldsig.index_ids(root))  # type: ignore[arg-type]
    assert caught.value.fault == "FailedCheck"
    assert "EC key" in caught.value.reason


# -- allow-list -------------------------------------------------------------------------------

HMAC_SHA1 = "http://www.w3.org/2000/09/xmldsig#hmac-sha1"
XPATH = "http://www.w3.org/TR/1999/REC-xpath-19991116"
C14N_INCLUSIVE = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
MD5 = "http://www.w3.org/2001/04/xmldsig-more#md5"


def _tamper(path: str, algorithm: str) -> SecurityError:
    root, signature = _signed()
    target = signature.find(path, namespaces={"ds": DS})
    assert target is not None
    target.set("Algorithm", algorithm)
    with pytest.raises(SecurityError) as caught:
        xmldsig.verify(signature, _doctor_key(), xmldsig.index_ids(root))
    return caught.value


@pytest.mark.parametrize(
    ("path", "algorithm"),
    [
        ("ds:SignedInfo/ds:SignatureMethod", HMAC_SHA1),
        ("ds:SignedInfo/ds:CanonicalizationMethod", C14N_INCLUSIVE),
        ("ds:SignedInfo/ds:Reference/ds:Transforms/ds:Transform", XPATH),
        ("ds:SignedInfo/ds:Reference/ds:DigestMethod", MD5),
    ],
    ids=["hmac-sha1", "inclusive-c14n", "xpath-transform", "md5-digest"],
)
def test_disallowed_algorithms_are_named(path: str, algorithm: str) -> None:
    error = _tamper(path, algorithm)
    assert error.fault == "InvalidSecurity"
    assert algorithm in error.reason


def test_external_reference_is_refused() -> None:
    root, signature = _signed()
    reference = signature.find(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
    assert reference is not None
    reference.set("URI", "http://example.com/evil.xml")
    with pytest.raises(SecurityError) as caught:
        xmldsig.verify(signature, _doctor_key(), xmldsig.index_ids(root))
    assert caught.value.fault == "InvalidSecurity"
    assert "evil.xml" in caught.value.reason


def test_dangling_reference_is_refused() -> None:
    root, signature = _signed()
    part = root.find("{urn:test}Part")
    assert part is not None
    del part.attrib[f"{{{WSU}}}Id"]
    with pytest.raises(SecurityError) as caught:
        xmldsig.verify(signature, _doctor_key(), xmldsig.index_ids(root))
    assert "#p1" in caught.value.reason


# -- enveloped signatures ---------------------------------------------------------------------


def test_enveloped_signature_verifies_in_place_and_restores_the_tree() -> None:
    root = _doc()
    root.set("ID", "r")
    signature = xmldsig.sign(root, pki().doctor.key, [("r", root)], index=1)
    before = etree.tostring(root)
    result = xmldsig.verify(signature, _doctor_key(), xmldsig.index_ids(root))
    assert result.covered == (root,)
    assert etree.tostring(root) == before  # the Signature went back where it was


def test_enveloped_transform_removes_the_signature_but_not_the_text_after_it() -> None:
    root = _doc()
    root.set("ID", "r")
    signature = xmldsig.sign(root, pki().doctor.key, [("r", root)], index=1)
    signature.tail = "\n  "  # text added after signing is content of the signed element
    with pytest.raises(SecurityError) as caught:
        xmldsig.verify(signature, _doctor_key(), xmldsig.index_ids(root))
    assert caught.value.fault == "FailedCheck"


# -- interop with xmlsec1 ---------------------------------------------------------------------


@pytest.mark.parametrize("curve", [False, True], ids=["rsa", "ec"])
def test_xmlsec1_verifies_what_we_sign(curve: bool, tmp_path: Path) -> None:
    root, _ = _signed(curve)
    party = pki().nurse if curve else pki().doctor
    _, cert = party.write(tmp_path, "signer")
    good = tmp_path / "good.xml"
    good.write_bytes(etree.tostring(root))
    assert xmlsec1_verifies(good, cert, id_attrs=PART_IDS)
    tampered = copy.deepcopy(root)
    tampered.find("{urn:test}Part").text = "uno "  # type: ignore[union-attr]
    bad = tmp_path / "bad.xml"
    bad.write_bytes(etree.tostring(tampered))
    assert not xmlsec1_verifies(bad, cert, id_attrs=PART_IDS)  # the judge is not a rubber stamp


def test_wss4j_sample_digests_match_our_c14n_with_prefix_lists(shared_reference: Path) -> None:
    """The eHealth connector sample: digests use InclusiveNamespaces "wsse SOAP-ENV".

    The file was indented after signing, so blank text is dropped before checking; its key is
    unknown, so the signature value itself must fail, and only after all digests passed.
    """
    path = shared_reference / "samples/wssecurity/wss-saml11-hok-signed-example.xml"
    data = path.read_bytes()
    data = data[: data.rindex(b">") + 1]  # the sample carries a stray byte after the envelope
    root = etree.fromstring(data, etree.XMLParser(remove_blank_text=True))
    signature = root.find(f".//{{{DS}}}Signature")
    assert signature is not None
    with pytest.raises(SecurityError) as caught:
        xmldsig.verify(signature, _doctor_key(), xmldsig.index_ids(root))
    assert caught.value.fault == "FailedCheck"
    assert "SignatureValue" in caught.value.reason


def test_certificate_is_readable_from_x509_key_info() -> None:
    der = pki().sts.cert.public_bytes(Encoding.DER)
    key_info = xmldsig.x509_key_info(der)
    text = key_info.findtext(f"{{{DS}}}X509Data/{{{DS}}}X509Certificate")
    assert x509.load_der_x509_certificate(base64.b64decode(text or "")) == pki().sts.cert


def test_we_verify_a_whole_document_signature_made_by_xmlsec1(tmp_path: Path) -> None:
    """URI="" with enveloped-signature: the reference resolves to the document element."""
    template = tmp_path / "template.xml"
    template.write_bytes(
        DOC.replace(
            b"</r:Root>",
            f'<ds:Signature xmlns:ds="{DS}"><ds:SignedInfo>'
            f'<ds:CanonicalizationMethod Algorithm="{xmldsig.EXC_C14N}"/>'
            f'<ds:SignatureMethod Algorithm="{xmldsig.RSA_SHA256}"/>'
            '<ds:Reference URI=""><ds:Transforms>'
            f'<ds:Transform Algorithm="{xmldsig.ENVELOPED}"/>'
            f'<ds:Transform Algorithm="{xmldsig.EXC_C14N}"/></ds:Transforms>'
            f'<ds:DigestMethod Algorithm="{xmldsig.SHA256}"/><ds:DigestValue/>'
            "</ds:Reference></ds:SignedInfo><ds:SignatureValue/></ds:Signature>"
            "</r:Root>".encode(),
        )
    )
    key, _ = pki().doctor.write(tmp_path, "doctor")
    signed = tmp_path / "signed.xml"
    result = xmlsec1("--sign", "--privkey-pem", str(key), "--output", str(signed), str(template))
    assert result.returncode == 0, result.stderr
    root = etree.parse(str(signed)).getroot()
    verified = xmldsig.verify(_signature(root), _doctor_key(), xmldsig.index_ids(root))
    assert verified.covered == (root,)
    assert verified.ids == ("",)
