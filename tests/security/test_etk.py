"""ETKs: CMS SignedData around an encryption certificate, readable by us and by openssl."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from simulator.security.etk import EtkError, build_etk, parse_etk
from simulator.security.pki import Identity, TestPki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.load_or_create(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def insurer_etk(pki: TestPki) -> bytes:
    return build_etk(pki.insurer_encryption, pki.insurer_signing)


def test_round_trip_from_identity_and_from_certificate(pki: TestPki, insurer_etk: bytes) -> None:
    assert parse_etk(insurer_etk) == pki.insurer_encryption.cert
    provider = pki.issue_provider("10185748004", "85073003328", key_type="ec")
    assert parse_etk(build_etk(provider.cert, pki.insurer_signing)) == provider.cert


def test_an_ec_signer_works_too(pki: TestPki) -> None:
    signer = pki.issue_provider("30202929001", "85073003328", key_type="ec")
    assert parse_etk(build_etk(pki.insurer_encryption, signer)) == pki.insurer_encryption.cert


def _openssl_verify(etk: bytes, ca_pem: Path, tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    source = tmp_path / "etk.der"
    source.write_bytes(etk)
    command = ["openssl", "cms", "-verify", "-inform", "DER", "-in", str(source)]
    return subprocess.run(
        [*command, "-CAfile", str(ca_pem), "-binary"],
        capture_output=True,
        check=False,
    )


@pytest.mark.interop
def test_openssl_verifies_the_etk_and_outputs_the_der_certificate(
    pki: TestPki, insurer_etk: bytes, tmp_path: Path
) -> None:
    result = _openssl_verify(insurer_etk, pki.ca_cert_path, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == pki.insurer_encryption.cert_der


@pytest.mark.interop
def test_openssl_rejects_the_etk_under_another_ca(
    insurer_etk: bytes, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    other = TestPki.load_or_create(tmp_path_factory.mktemp("other"))
    result = _openssl_verify(insurer_etk, other.ca_cert_path, tmp_path)
    assert result.returncode != 0


# --- garbage in, EtkError out -------------------------------------------------------------------


def _signed(data: bytes, signer: Identity, *options: pkcs7.PKCS7Options) -> bytes:
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(data)
        .add_signer(signer.cert, signer.key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary, *options])
    )


def test_garbage_is_refused_with_a_reason(pki: TestPki, insurer_etk: bytes) -> None:
    cases = {
        b"": "empty",
        b"hello": "expected a DER SEQUENCE",
        insurer_etk[:-1]: "runs past the end",
        insurer_etk + b"\x00": "1 trailing byte",
        b"\x30\x80\x00\x00": "indefinite length",
        pki.ca.cert_der: "expected contentType OID",
        _signed(b"not a certificate", pki.insurer_signing): "not a DER X.509 certificate",
        _signed(
            pki.insurer_encryption.cert_der,
            pki.insurer_signing,
            pkcs7.PKCS7Options.DetachedSignature,
        ): "carries no content",
    }
    for data, reason in cases.items():
        with pytest.raises(EtkError, match=reason):
            parse_etk(data)


def test_other_cms_types_are_refused(pki: TestPki) -> None:
    enveloped_data_oid = bytes.fromhex("06092a864886f70d010703")
    data = _der(0x30, enveloped_data_oid + _der(0xA0, _der(0x30, b"")))
    with pytest.raises(EtkError, match="not CMS SignedData"):
        parse_etk(data)


# --- BER-style segmented content (as some CMS producers write it) -------------------------------


def _der(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + content


def test_content_split_into_octet_string_segments_is_joined(pki: TestPki) -> None:
    cert = pki.insurer_encryption.cert_der
    segments = _der(0x04, cert[:500]) + _der(0x04, cert[500:])
    encap = _der(0x30, bytes.fromhex("06092a864886f70d010701") + _der(0xA0, _der(0x24, segments)))
    signed_data = _der(0x30, _der(0x02, b"\x01") + _der(0x31, b"") + encap + _der(0x31, b""))
    content_info = _der(0x30, bytes.fromhex("06092a864886f70d010702") + _der(0xA0, signed_data))
    assert parse_etk(content_info) == pki.insurer_encryption.cert
