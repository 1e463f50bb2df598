"""XAdES over blobs: round trips, the independent judges (xmlsec1, openssl ts, the XAdES XSD)
and the refusals (tampering, wrong or untrusted signer, transforms the blob does not imply)."""

from __future__ import annotations

import base64
import copy
import hashlib
import re
import subprocess
import zlib
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree

from simulator.codecs.blob import encode_blob
from simulator.security import xmldsig
from simulator.security.pki import BACKDATE, Identity, TestPki
from simulator.security.xades import (
    BASE64,
    ENCRYPTED,
    MAX_CONTENT,
    OPTIONAL_DEFLATE,
    XADES,
    XadesError,
    issue_tsa,
    sign_blob,
    sign_enveloped,
    timestamp_token,
    verify_blob,
    verify_enveloped,
)
from simulator.security.xmldsig import DS, EXC_C14N
from tests.security.keys import pki as other_pki

GA = "urn:be:cin:nip:async:generic"
NS = {"ds": DS, "xades": XADES}
XML_PAYLOAD = b'<k:kmehrmessage xmlns:k="urn:k"  z="2" a="1"><k:id>1</k:id></k:kmehrmessage>'
FLAT_PAYLOAD = b"9200000000000000HCPFAC flat file" * 20
ID_ARGS = ["--id-attr:Id", f"{GA}:Detail", "--id-attr:Id", f"{XADES}:SignedProperties"]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.load_or_create(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def signer(pki: TestPki) -> Identity:
    return pki.insurer_signing


@pytest.fixture(scope="module")
def tsa(pki: TestPki) -> Identity:
    return issue_tsa(pki.ca, now=_made(pki) + timedelta(hours=1))


@pytest.fixture(scope="module")
def ca_pem(pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    path.write_bytes(pki.ca.cert_pem)
    return path


def _made(pki: TestPki) -> datetime:
    """When the test PKI was made (its certificates start BACKDATE earlier)."""
    return pki.ca.cert.not_valid_before_utc + BACKDATE


def _moment(pki: TestPki) -> datetime:
    # Inside every certificate's validity, whatever day the test PKI was made.
    return _made(pki) + timedelta(hours=2)


def _post(content_type: str, encoding: str, payload: bytes | None = None) -> etree._Element:
    """A GenAsync post holding one Detail (the Detail is element 0)."""
    data = payload or (XML_PAYLOAD if content_type == "text/xml" else FLAT_PAYLOAD)
    return etree.fromstring(
        f'<ga:post xmlns:ga="{GA}"><ga:Detail ContentType="{content_type}" '
        f'ContentEncoding="{encoding}" MessageName="HCPFAC" Id="blob">'
        f"{encode_blob(data, encoding)}</ga:Detail></ga:post>"
    )


def _sign(
    pki: TestPki,
    detail: etree._Element,
    who: Identity,
    *,
    with_timestamp: bool = False,
    tsa: Identity | None = None,
) -> bytes:
    return sign_blob(
        detail,
        key=who.key,
        cert=who.cert,
        signing_time=_moment(pki),
        with_timestamp=with_timestamp,
        tsa=tsa,
    )


def _transforms(signature: bytes) -> list[list[str]]:
    root = etree.fromstring(signature)
    return [
        [t.get("Algorithm", "") for t in ref.iterfind("ds:Transforms/ds:Transform", NS)]
        for ref in root.iterfind("ds:SignedInfo/ds:Reference", NS)
    ]


def _resign(signature: etree._Element, who: Identity) -> bytes:
    """Recompute the SignatureValue so only the rule under test can reject the change."""
    signed_info = signature.find("ds:SignedInfo", NS)
    value = signature.find("ds:SignatureValue", NS)
    assert signed_info is not None and value is not None
    method = signed_info.find("ds:SignatureMethod", NS).get("Algorithm")  # type: ignore[union-attr]
    raw = xmldsig.sign_bytes(who.key, method, xmldsig.c14n(signed_info))  # type: ignore[arg-type]
    value.text = base64.b64encode(raw).decode()
    return etree.tostring(signature)


def _xmlsec1_verify(document: Path, ca_pem: Path, *ids: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["xmlsec1", "--verify", *ids, "--trusted-pem", str(ca_pem), str(document)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


# -- shape and round trips --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "encoding", "expected"),
    [
        ("text/plain", "none", [BASE64]),
        ("text/xml", "none", [BASE64, EXC_C14N]),
        ("text/plain", "deflate", [BASE64, OPTIONAL_DEFLATE]),
        ("text/xml", "deflate", [BASE64, OPTIONAL_DEFLATE, EXC_C14N]),
    ],
)
def test_transforms_follow_the_blob_attributes_and_round_trip(
    pki: TestPki, signer: Identity, content_type: str, encoding: str, expected: list[str]
) -> None:
    detail = _post(content_type, encoding)[0]
    signature = _sign(pki, detail, signer)
    assert _transforms(signature) == [expected, [EXC_C14N]]
    root = etree.fromstring(signature)
    assert root.find("ds:SignedInfo/ds:Reference", NS).get("URI") == "#blob"  # type: ignore[union-attr]
    assert verify_blob(signature, detail, ca_cert=pki.ca.cert, now=_moment(pki)) == signer.cert


def test_signing_properties_name_the_time_and_the_certificate(
    pki: TestPki, signer: Identity
) -> None:
    root = etree.fromstring(_sign(pki, _post("text/plain", "deflate")[0], signer))
    properties = root.find("ds:Object/xades:QualifyingProperties/xades:SignedProperties", NS)
    assert properties is not None
    assert properties.findtext(".//xades:SigningTime", None, NS) == _moment(pki).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert properties.findtext(".//ds:X509SerialNumber", None, NS) == str(signer.cert.serial_number)
    second = root.findall("ds:SignedInfo/ds:Reference", NS)[1]
    assert second.get("URI") == f"#{properties.get('Id')}"
    assert second.get("Type") == "http://uri.etsi.org/01903#SignedProperties"


def test_an_ec_provider_signs_with_ecdsa(pki: TestPki) -> None:
    nurse = pki.issue_provider("40004001001", "85073003328", key_type="ec")
    detail = _post("text/plain", "deflate")[0]
    signature = _sign(pki, detail, nurse)
    method = etree.fromstring(signature).find("ds:SignedInfo/ds:SignatureMethod", NS)
    assert method is not None and method.get("Algorithm") == xmldsig.ECDSA_SHA256
    assert verify_blob(signature, detail, ca_cert=pki.ca.cert, now=_moment(pki)) == nurse.cert


def test_zlib_wrapped_content_is_tolerated(pki: TestPki, signer: Identity) -> None:
    detail = _post("text/plain", "deflate")[0]
    detail.text = base64.b64encode(zlib.compress(FLAT_PAYLOAD)).decode()
    signature = _sign(pki, detail, signer)
    assert verify_blob(signature, detail, ca_cert=pki.ca.cert, now=_moment(pki)) == signer.cert


def test_the_deflate_digest_covers_the_inflated_content(pki: TestPki, signer: Identity) -> None:
    # Two encodings of the same content share the digest: it is over the inflated bytes.
    raw = _post("text/plain", "deflate")[0]
    wrapped = _post("text/plain", "deflate")[0]
    wrapped.text = base64.b64encode(zlib.compress(FLAT_PAYLOAD, 9)).decode()
    assert raw.text != wrapped.text
    signature = _sign(pki, raw, signer)
    assert verify_blob(signature, wrapped, ca_cert=pki.ca.cert, now=_moment(pki)) == signer.cert


def test_a_deflate_bomb_is_capped(pki: TestPki, signer: Identity) -> None:
    detail = _post("text/plain", "deflate")[0]
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    # The cap is the insurer's largest answer (64 MiB), which MyCareNet signs too.
    bomb = compressor.compress(b"\0" * (MAX_CONTENT + 1024 * 1024)) + compressor.flush()
    detail.text = base64.b64encode(bomb).decode()
    with pytest.raises(XadesError, match="limit"):
        _sign(pki, detail, signer)


# -- xmlsec1, the independent judge -----------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", "text/xml"])
def test_xmlsec1_verifies_the_detached_signature(
    pki: TestPki, signer: Identity, ca_pem: Path, tmp_path: Path, content_type: str
) -> None:
    post = _post(content_type, "none")
    post.append(etree.fromstring(_sign(pki, post[0], signer)))
    document = tmp_path / "post.xml"
    document.write_bytes(etree.tostring(post))
    result = _xmlsec1_verify(document, ca_pem, *ID_ARGS)
    assert result.returncode == 0, result.stderr
    # and it notices a changed blob
    post[0].text = encode_blob(b"other content", "none")
    document.write_bytes(etree.tostring(post))
    assert _xmlsec1_verify(document, ca_pem, *ID_ARGS).returncode != 0


def test_xmlsec1_verifies_a_deflate_signature_without_our_transform(
    pki: TestPki, signer: Identity, ca_pem: Path, tmp_path: Path
) -> None:
    # xmlsec1 lacks optional-deflate: sign the inflated bytes as a 'none' blob, the same
    # digest input our transform yields, and let xmlsec1 check everything else.
    post = _post("text/plain", "none", FLAT_PAYLOAD)
    deflated = _post("text/plain", "deflate", FLAT_PAYLOAD)[0]
    signature = _sign(pki, deflated, signer)
    plain = etree.fromstring(signature)
    first = plain.find("ds:SignedInfo/ds:Reference/ds:Transforms", NS)
    assert first is not None
    first.remove(first[1])
    post.append(etree.fromstring(_resign(plain, signer)))
    document = tmp_path / "post.xml"
    document.write_bytes(etree.tostring(post))
    assert _xmlsec1_verify(document, ca_pem, *ID_ARGS).returncode == 0


# -- refusals ---------------------------------------------------------------------------------


def test_a_tampered_blob_is_refused(pki: TestPki, signer: Identity) -> None:
    detail = _post("text/plain", "deflate")[0]
    signature = _sign(pki, detail, signer)
    detail.text = encode_blob(FLAT_PAYLOAD + b"X", "deflate")
    with pytest.raises(XadesError, match="digest of Reference '#blob' does not match"):
        verify_blob(signature, detail, ca_cert=pki.ca.cert, now=_moment(pki))


def test_a_changed_content_encoding_is_refused(pki: TestPki, signer: Identity) -> None:
    detail = _post("text/plain", "none")[0]
    signature = _sign(pki, detail, signer)
    detail.set("ContentEncoding", "deflate")
    with pytest.raises(XadesError, match=r"transforms .* not allowed"):
        verify_blob(signature, detail, ca_cert=pki.ca.cert, now=_moment(pki))


def test_a_swapped_keyinfo_certificate_is_refused(pki: TestPki, signer: Identity) -> None:
    detail = _post("text/plain", "none")[0]
    root = etree.fromstring(_sign(pki, detail, signer))
    element = root.find("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)
    assert element is not None
    element.text = pki.sts.cert_b64
    with pytest.raises(
        XadesError, match="SigningCertificate digest matches no KeyInfo certificate"
    ):
        verify_blob(etree.tostring(root), detail, ca_cert=pki.ca.cert, now=_moment(pki))


def test_signing_certificate_must_be_the_keyinfo_certificate(
    pki: TestPki, signer: Identity
) -> None:
    # A valid signature by `signer` whose SigningCertificate names someone else.
    detail = _post("text/plain", "none")[0]
    other = _sign(pki, detail, pki.sts)
    root = etree.fromstring(_sign(pki, detail, signer))
    properties = root.find(".//xades:SignedProperties", NS)
    foreign = etree.fromstring(other).find(".//xades:SigningCertificate", NS)
    assert properties is not None and foreign is not None
    mine = properties.find(".//xades:SigningCertificate", NS)
    assert mine is not None
    mine.getparent().replace(mine, foreign)  # type: ignore[union-attr]
    digest = root.findall("ds:SignedInfo/ds:Reference/ds:DigestValue", NS)[1]
    digest.text = base64.b64encode(hashlib.sha256(xmldsig.c14n(properties)).digest()).decode()
    with pytest.raises(XadesError, match="SigningCertificate digest matches no KeyInfo"):
        verify_blob(_resign(root, signer), detail, ca_cert=pki.ca.cert, now=_moment(pki))


def test_a_signature_by_another_key_is_refused(pki: TestPki, signer: Identity) -> None:
    # The certificate claims `signer`, the STS key made the SignatureValue.
    detail = _post("text/plain", "none")[0]
    forged = sign_blob(detail, key=pki.sts.key, cert=signer.cert, signing_time=_moment(pki))
    with pytest.raises(XadesError, match="SignatureValue does not match ds:SignedInfo"):
        verify_blob(forged, detail, ca_cert=pki.ca.cert, now=_moment(pki))


def test_references_in_the_other_order_are_accepted(pki: TestPki, signer: Identity) -> None:
    detail = _post("text/xml", "none")[0]
    root = etree.fromstring(_sign(pki, detail, signer))
    signed_info = root.find("ds:SignedInfo", NS)
    assert signed_info is not None
    signed_info.append(signed_info[2])  # data reference now comes last
    assert signed_info[2].get("Type") is not None
    assert verify_blob(_resign(root, signer), detail, ca_cert=pki.ca.cert, now=_moment(pki))


def test_an_untrusted_ca_is_refused(pki: TestPki, signer: Identity) -> None:
    detail = _post("text/plain", "none")[0]
    signature = _sign(pki, detail, signer)
    with pytest.raises(XadesError, match="not issued by the trusted CA"):
        verify_blob(signature, detail, ca_cert=other_pki().ca.cert, now=_moment(pki))


def test_an_expired_signer_is_refused(pki: TestPki, signer: Identity) -> None:
    detail = _post("text/plain", "none")[0]
    signature = _sign(pki, detail, signer)
    later = signer.cert.not_valid_after_utc + timedelta(days=1)
    with pytest.raises(XadesError, match="not valid at"):
        verify_blob(signature, detail, ca_cert=pki.ca.cert, now=later)


@pytest.mark.parametrize(
    "algorithm",
    [
        "http://www.w3.org/TR/1999/REC-xpath-19991116",
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
        OPTIONAL_DEFLATE,
    ],
)
def test_a_transform_the_blob_does_not_imply_is_refused(
    pki: TestPki, signer: Identity, algorithm: str
) -> None:
    detail = _post("text/plain", "none")[0]
    root = etree.fromstring(_sign(pki, detail, signer))
    transforms = root.find("ds:SignedInfo/ds:Reference/ds:Transforms", NS)
    assert transforms is not None
    etree.SubElement(transforms, f"{{{DS}}}Transform", Algorithm=algorithm)
    with pytest.raises(XadesError, match=re.escape(f"{algorithm!r} unexpected")):
        verify_blob(_resign(root, signer), detail, ca_cert=pki.ca.cert, now=_moment(pki))


def test_a_reference_to_another_element_is_refused(pki: TestPki, signer: Identity) -> None:
    signed = _post("text/plain", "none")[0]
    signature = _sign(pki, signed, signer)
    other = _post("text/plain", "none")[0]
    other.set("Id", "blob2")
    with pytest.raises(XadesError, match="must be '#blob2'"):
        verify_blob(signature, other, ca_cert=pki.ca.cert, now=_moment(pki))


def test_a_reused_id_inside_the_signature_is_refused(pki: TestPki, signer: Identity) -> None:
    detail = _post("text/plain", "none")[0]
    root = etree.fromstring(_sign(pki, detail, signer))
    root.find("ds:KeyInfo", NS).set("Id", "blob")  # type: ignore[union-attr]
    with pytest.raises(XadesError, match="reused inside the signature"):
        verify_blob(etree.tostring(root), detail, ca_cert=pki.ca.cert, now=_moment(pki))


def test_a_sha1_signature_method_is_refused(pki: TestPki, signer: Identity) -> None:
    detail = _post("text/plain", "none")[0]
    root = etree.fromstring(_sign(pki, detail, signer))
    root.find("ds:SignedInfo/ds:SignatureMethod", NS).set(  # type: ignore[union-attr]
        "Algorithm", xmldsig.RSA_SHA1
    )
    with pytest.raises(XadesError, match="rsa-sha1' is not allowed"):
        verify_blob(_resign(root, signer), detail, ca_cert=pki.ca.cert, now=_moment(pki))


def test_a_dtd_in_the_xades_is_refused(pki: TestPki) -> None:
    detail = _post("text/plain", "none")[0]
    hostile = b'<!DOCTYPE x [<!ENTITY e "boom">]><ds:Signature xmlns:ds="' + DS.encode() + b'"/>'
    with pytest.raises(XadesError, match="DOCTYPE"):
        verify_blob(hostile, detail, ca_cert=pki.ca.cert, now=_moment(pki))


def test_a_detail_without_id_cannot_be_signed(pki: TestPki, signer: Identity) -> None:
    detail = _post("text/plain", "none")[0]
    del detail.attrib["Id"]
    with pytest.raises(XadesError, match="no Id attribute"):
        _sign(pki, detail, signer)


# -- XAdES-T ----------------------------------------------------------------------------------


def _token(signature: bytes) -> bytes:
    element = etree.fromstring(signature).find(".//xades:EncapsulatedTimeStamp", NS)
    assert element is not None and element.text
    return base64.b64decode(element.text)


def test_xades_t_round_trip_and_timestamp_over_the_signature_value(
    pki: TestPki, signer: Identity, tsa: Identity
) -> None:
    detail = _post("text/plain", "deflate")[0]
    signature = _sign(pki, detail, signer, with_timestamp=True, tsa=tsa)
    stamp = etree.fromstring(signature).find(".//xades:SignatureTimeStamp", NS)
    assert stamp is not None
    assert stamp.find("ds:CanonicalizationMethod", NS).get("Algorithm") == EXC_C14N  # type: ignore[union-attr]
    assert verify_blob(signature, detail, ca_cert=pki.ca.cert, now=_moment(pki)) == signer.cert


def test_xades_t_needs_a_tsa(pki: TestPki, signer: Identity) -> None:
    with pytest.raises(XadesError, match="time-stamping authority"):
        _sign(pki, _post("text/plain", "none")[0], signer, with_timestamp=True)


def test_a_timestamp_over_another_signature_is_refused(
    pki: TestPki, signer: Identity, tsa: Identity
) -> None:
    detail = _post("text/plain", "none")[0]
    root = etree.fromstring(_sign(pki, detail, signer, with_timestamp=True, tsa=tsa))
    element = root.find(".//xades:EncapsulatedTimeStamp", NS)
    assert element is not None
    element.text = base64.b64encode(timestamp_token(b"\1" * 32, tsa, _moment(pki))).decode()
    with pytest.raises(XadesError, match="imprint does not match"):
        verify_blob(etree.tostring(root), detail, ca_cert=pki.ca.cert, now=_moment(pki))


def test_a_timestamp_from_an_untrusted_tsa_is_refused(pki: TestPki, signer: Identity) -> None:
    stranger = other_pki()
    rogue = issue_tsa(Identity(stranger.ca.key, stranger.ca.cert), now=_moment(pki))
    detail = _post("text/plain", "none")[0]
    signature = _sign(pki, detail, signer, with_timestamp=True, tsa=rogue)
    with pytest.raises(XadesError, match=r"TSA .* is not trusted"):
        verify_blob(signature, detail, ca_cert=pki.ca.cert, now=_moment(pki))


def test_openssl_reads_and_verifies_the_timestamp_token(
    pki: TestPki, signer: Identity, tsa: Identity, ca_pem: Path, tmp_path: Path
) -> None:
    signature = _sign(pki, _post("text/plain", "none")[0], signer, with_timestamp=True, tsa=tsa)
    token = tmp_path / "token.der"
    token.write_bytes(_token(signature))
    value = etree.fromstring(signature).find("ds:SignatureValue", NS)
    assert value is not None
    stamped = tmp_path / "signature-value.xml"
    stamped.write_bytes(xmldsig.c14n(value))

    text = subprocess.run(
        ["openssl", "ts", "-reply", "-in", str(token), "-token_in", "-text"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert text.returncode == 0, text.stderr
    assert "Policy OID: 2.999.3161.1" in text.stdout and "Hash Algorithm: sha256" in text.stdout

    def verify(data: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["openssl", "ts", "-verify", "-in", str(token), "-token_in",
             "-data", str(data), "-CAfile", str(ca_pem)],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip

    result = verify(stamped)
    assert result.returncode == 0 and "Verification: OK" in result.stdout, result.stderr
    other = tmp_path / "other.xml"
    other.write_bytes(b"<x/>")
    assert verify(other).returncode != 0


# -- eAttest: XAdES inside EncryptedKnownContent ----------------------------------------------


def _known_content(payload: bytes = XML_PAYLOAD) -> etree._Element:
    return etree.fromstring(
        f'<e:EncryptedKnownContent xmlns:e="{ENCRYPTED}">'
        f"<e:Reply-to-Etk>{base64.b64encode(b'etk').decode()}</e:Reply-to-Etk>"
        f'<e:BusinessContent id="_c1">{base64.b64encode(payload).decode()}</e:BusinessContent>'
        "</e:EncryptedKnownContent>"
    )


def test_enveloped_round_trip_and_tampering(pki: TestPki, signer: Identity) -> None:
    document = _known_content()
    sign_enveloped(document, key=signer.key, cert=signer.cert, signing_time=_moment(pki))
    assert [etree.QName(c).localname for c in document] == [
        "Reply-to-Etk",
        "BusinessContent",
        "Xades",
    ]
    reparsed = etree.fromstring(etree.tostring(document))
    assert verify_enveloped(reparsed, ca_cert=pki.ca.cert, now=_moment(pki)) == signer.cert
    reparsed[1].text = base64.b64encode(XML_PAYLOAD.replace(b">1<", b">2<")).decode()
    with pytest.raises(XadesError, match="BusinessContent '_c1'"):
        verify_enveloped(reparsed, ca_cert=pki.ca.cert, now=_moment(pki))


def test_enveloped_signing_twice_is_refused(pki: TestPki, signer: Identity) -> None:
    document = _known_content()
    sign_enveloped(document, key=signer.key, cert=signer.cert, signing_time=_moment(pki))
    with pytest.raises(XadesError, match="already holds"):
        sign_enveloped(document, key=signer.key, cert=signer.cert, signing_time=_moment(pki))


def test_xmlsec1_verifies_the_enveloped_signature(
    pki: TestPki, signer: Identity, ca_pem: Path, tmp_path: Path
) -> None:
    document = _known_content()
    sign_enveloped(document, key=signer.key, cert=signer.cert, signing_time=_moment(pki))
    xades = document[2]
    # xmlsec1 reads a ds:Signature, not its base64: put the decoded one where Xades was.
    document.replace(xades, etree.fromstring(base64.b64decode(xades.text or "")))
    path = tmp_path / "known.xml"
    path.write_bytes(etree.tostring(document))
    ids = ["--id-attr:id", f"{ENCRYPTED}:BusinessContent", *ID_ARGS[2:]]
    result = _xmlsec1_verify(path, ca_pem, *ids)
    assert result.returncode == 0, result.stderr
    document[1].text = base64.b64encode(XML_PAYLOAD.replace(b">1<", b">2<")).decode()
    path.write_bytes(etree.tostring(document))
    assert _xmlsec1_verify(path, ca_pem, *ids).returncode != 0


# -- official schemas and samples -------------------------------------------------------------


@pytest.fixture(scope="module")
def xades_schema(shared_reference: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(shared_reference / "xsd/external/XSD/XAdES.xsd")))


def test_xades_t_validates_against_the_official_xades_xsd(
    pki: TestPki, signer: Identity, tsa: Identity, xades_schema: etree.XMLSchema
) -> None:
    for stamped in (False, True):
        detail = _post("text/xml", "deflate")[0]
        root = etree.fromstring(_sign(pki, detail, signer, with_timestamp=stamped, tsa=tsa))
        qualifying = root.find("ds:Object/xades:QualifyingProperties", NS)
        assert qualifying is not None
        standalone = etree.fromstring(etree.tostring(qualifying))
        assert xades_schema.validate(standalone), xades_schema.error_log
        # the whole ds:Signature too (ds:Object content is laxly validated with XAdES loaded)
        assert xades_schema.validate(root), xades_schema.error_log
    broken = copy.deepcopy(standalone)
    broken.find(".//xades:SigningTime", NS).text = "yesterday"  # type: ignore[union-attr]
    assert not xades_schema.validate(broken)


def test_signing_the_official_genasync_post_sample(
    pki: TestPki, signer: Identity, shared_reference: Path
) -> None:
    post = etree.parse(str(shared_reference / "samples/reconstructed/genasync-post.xml"))
    detail = post.find(f".//{{{GA}}}Detail")
    assert detail is not None and detail.get("ContentEncoding") == "deflate"
    signature = _sign(pki, detail, signer)
    assert _transforms(signature)[0] == [BASE64, OPTIONAL_DEFLATE]
    assert verify_blob(signature, detail, ca_cert=pki.ca.cert, now=_moment(pki)) == signer.cert


def test_signed_known_content_still_fits_the_official_schema(
    pki: TestPki, signer: Identity, shared_reference: Path
) -> None:
    xsd = shared_reference / "xsd/ehealth-mycarenet-attest/XSD/encryption/businessContent.xsd"
    schema = etree.XMLSchema(etree.parse(str(xsd)))
    kmehr = shared_reference / "samples/eattest/eattest-cancel-SendTransactionRequest-kmehr.xml"
    document = _known_content(kmehr.read_bytes())
    sign_enveloped(document, key=signer.key, cert=signer.cert, signing_time=_moment(pki))
    assert schema.validate(document), schema.error_log
    assert verify_enveloped(document, ca_cert=pki.ca.cert, now=_moment(pki)) == signer.cert


# -- eAttest v3 from FHC/IFHC: [enveloped-signature, base64, exc-c14n] (client-quirks #9) ------

ENVELOPED_SIGNATURE = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"


def _santuario_shaped(
    pki: TestPki, who: Identity, tmp_path: Path, transforms: list[str]
) -> etree._Element:
    """What FHC's `EattestV3ServiceImpl.kt handleEncryption` produces, signed by xmlsec1
    (tests/support/independent.py `santuario_xades`)."""
    from tests.support.independent import santuario_xades

    known = etree.tostring(_known_content())
    signed = santuario_xades(
        known,
        private_key_pem=who.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        cert_der=who.cert.public_bytes(serialization.Encoding.DER),
        issuer_name=who.cert.issuer.rfc4514_string(),
        serial_number=who.cert.serial_number,
        signing_time=_moment(pki).strftime("%Y-%m-%dT%H:%M:%SZ"),
        transforms=tuple(transforms),
    )
    return etree.fromstring(signed)


@pytest.mark.parametrize(
    "transforms",
    [
        [ENVELOPED_SIGNATURE, BASE64, EXC_C14N],  # FHC/IFHC (Santuario, encapsulate=true)
        [BASE64, EXC_C14N],  # CONN 4.7.3 (DefaultSigningOptions)
    ],
)
def test_an_independently_signed_eattest_xades_verifies_in_both_forms(
    pki: TestPki, signer: Identity, tmp_path: Path, transforms: list[str]
) -> None:
    document = _santuario_shaped(pki, signer, tmp_path, transforms)
    assert verify_enveloped(document, ca_cert=pki.ca.cert, now=_moment(pki)) == signer.cert
    # The digest still covers the business content, whichever form.
    document[1].text = base64.b64encode(XML_PAYLOAD.replace(b">1<", b">2<")).decode()
    with pytest.raises(XadesError, match="does not match"):
        verify_enveloped(document, ca_cert=pki.ca.cert, now=_moment(pki))


@pytest.mark.parametrize(
    "transforms",
    [
        [BASE64, ENVELOPED_SIGNATURE, EXC_C14N],  # enveloped-signature reads a node-set: first
        [ENVELOPED_SIGNATURE, ENVELOPED_SIGNATURE, BASE64, EXC_C14N],
        [ENVELOPED_SIGNATURE, EXC_C14N],
    ],
)
def test_enveloped_signature_elsewhere_than_first_is_refused(
    pki: TestPki, signer: Identity, tmp_path: Path, transforms: list[str]
) -> None:
    # xmlsec1 will not sign these chains: rewrite a valid one and sign its SignedInfo again.
    document = _santuario_shaped(pki, signer, tmp_path, [ENVELOPED_SIGNATURE, BASE64, EXC_C14N])
    signature = etree.fromstring(base64.b64decode(document[2].text or ""))
    chain = signature.find("ds:SignedInfo/ds:Reference/ds:Transforms", NS)
    assert chain is not None
    for transform in list(chain):
        chain.remove(transform)
    for algorithm in transforms:
        etree.SubElement(chain, f"{{{DS}}}Transform", Algorithm=algorithm)
    document[2].text = base64.b64encode(_resign(signature, signer)).decode()
    with pytest.raises(XadesError, match="are not allowed"):
        verify_enveloped(document, ca_cert=pki.ca.cert, now=_moment(pki))


def test_a_detached_blob_signature_may_not_claim_enveloped_signature(
    pki: TestPki, signer: Identity
) -> None:
    detail = _post("text/plain", "none")[0]
    signature = etree.fromstring(_sign(pki, detail, signer))
    chain = signature.find("ds:SignedInfo/ds:Reference/ds:Transforms", NS)
    assert chain is not None
    chain.insert(0, etree.Element(f"{{{DS}}}Transform", Algorithm=ENVELOPED_SIGNATURE))
    with pytest.raises(XadesError, match="are not allowed"):
        verify_blob(_resign(signature, signer), detail, ca_cert=pki.ca.cert, now=_moment(pki))


def test_the_enveloped_signature_transform_removes_the_signature_it_sits_in() -> None:
    """XMLDSig 6.6.4: the node-set minus the enveloping ds:Signature (its tail text stays)."""
    from simulator.security.xades import apply_transforms

    content = etree.fromstring(
        f'<e:BusinessContent xmlns:e="{ENCRYPTED}" xmlns:ds="{DS}" id="_c1">QUJD'
        "<ds:Signature><ds:SignatureValue>eHl6</ds:SignatureValue></ds:Signature>REVG"
        "</e:BusinessContent>"
    )
    signature = content[0]
    chain = [ENVELOPED_SIGNATURE, BASE64]
    assert apply_transforms(content, chain, "BusinessContent", signature) == b"ABCDEF"
    assert len(content) == 1  # the document itself is left as it was
    with pytest.raises(XadesError, match="base64 text only"):
        apply_transforms(content, [BASE64], "BusinessContent")
    other = etree.fromstring(f'<ds:Signature xmlns:ds="{DS}"/>')
    with pytest.raises(XadesError, match="base64 text only"):  # not the enveloping one
        apply_transforms(content, chain, "BusinessContent", other)
