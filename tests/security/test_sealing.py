"""eHealth seals: our round trip, openssl as the independent judge both ways, and every refusal."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from simulator.security.pki import Identity, TestPki
from simulator.security.sealing import SealError, Unsealed, seal, unseal

CONTENT = b"<EncryptedKnownContent>\r\n caf\xc3\xa9 \x00\xff binary-safe</EncryptedKnownContent>\n"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.load_or_create(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def doctor(pki: TestPki) -> Identity:
    return pki.issue_provider("10004001001", "85073003328", "Dr Seal")


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.load_or_create(tmp_path_factory.mktemp("other"))


def _pem_files(identity: Identity, folder: Path, name: str) -> tuple[Path, Path]:
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    cert.write_bytes(identity.cert_pem)
    key.write_bytes(
        identity.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, key


def _openssl(*args: str) -> bytes:
    result = subprocess.run(["openssl", "cms", *args], capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def _reason(excinfo: pytest.ExceptionInfo[SealError]) -> tuple[str, str]:
    return excinfo.value.layer, excinfo.value.kind


# -- round trips ----------------------------------------------------------------------------


def test_provider_to_insurer_round_trip(pki: TestPki, doctor: Identity) -> None:
    sealed = seal(CONTENT, sender=doctor, recipients=[pki.insurer_encryption.cert])
    opened = unseal(sealed, recipient=pki.insurer_encryption, trusted_ca=pki.ca.cert)
    assert opened == Unsealed(content=CONTENT, signer=doctor.cert)
    assert CONTENT not in sealed  # actually encrypted, not just signed


def test_insurer_answer_for_an_ec_sender_and_several_recipients(
    pki: TestPki, doctor: Identity
) -> None:
    ec_nurse = pki.issue_provider("40004001001", "85073003328", key_type="ec")
    sealed = seal(b"x", sender=ec_nurse, recipients=[doctor.cert, pki.insurer_encryption.cert])
    for recipient in (doctor, pki.insurer_encryption):
        assert unseal(sealed, recipient=recipient, trusted_ca=pki.ca.cert).content == b"x"
    answer = seal(b"", sender=pki.insurer_signing, recipients=[doctor.cert])
    opened = unseal(answer, recipient=doctor, trusted_ca=None)
    assert opened.content == b""
    assert opened.signer == pki.insurer_signing.cert


def test_seal_refuses_no_recipient_and_a_recipient_without_rsa(
    pki: TestPki, doctor: Identity
) -> None:
    with pytest.raises(SealError, match="no recipient"):
        seal(b"x", sender=doctor, recipients=[])
    ec_nurse = pki.issue_provider("40004001002", "85073003328", key_type="ec")
    with pytest.raises(SealError, match="has no RSA key"):
        seal(b"x", sender=doctor, recipients=[ec_nurse.cert])


# -- openssl judges our seals ---------------------------------------------------------------


@pytest.mark.interop
def test_openssl_opens_each_layer_of_our_seal(
    pki: TestPki, doctor: Identity, tmp_path: Path
) -> None:
    sealed = tmp_path / "sealed.der"
    sealed.write_bytes(seal(CONTENT, sender=doctor, recipients=[pki.insurer_encryption.cert]))
    doctor_pem, _ = _pem_files(doctor, tmp_path, "doctor")
    insurer_pem, insurer_key = _pem_files(pki.insurer_encryption, tmp_path, "insurer")
    ca = str(pki.ca_cert_path)
    # Provider certificates carry clientAuth only, so S/MIME purpose checks are switched off.
    verify = ("-verify", "-inform", "DER", "-binary", "-CAfile", ca, "-purpose", "any")

    middle = tmp_path / "middle.der"
    middle.write_bytes(_openssl(*verify, "-in", str(sealed)))  # outer embeds the certificate
    inner = tmp_path / "inner.der"
    inner.write_bytes(
        _openssl(
            "-decrypt", "-inform", "DER", "-binary", "-in", str(middle),
            "-recip", str(insurer_pem), "-inkey", str(insurer_key),
        )
    )  # fmt: skip
    # The inner layer leaves the certificate out: the verifier takes it from the outer one.
    content = _openssl(*verify, "-in", str(inner), "-certfile", str(doctor_pem))
    assert content == CONTENT


# -- our code opens openssl's seals ----------------------------------------------------------


def _openssl_seal(
    tmp_path: Path,
    sender: Identity,
    recipient: Identity,
    *,
    sign_options: tuple[str, ...] = (),
    encrypt_options: tuple[str, ...] = (),
    outer_sender: Identity | None = None,
    outer_options: tuple[str, ...] = (),
) -> bytes:
    cert, key = _pem_files(sender, tmp_path, "sender")
    outer_cert, outer_key = _pem_files(outer_sender or sender, tmp_path, "outer")
    recipient_pem, _ = _pem_files(recipient, tmp_path, "recipient")
    (tmp_path / "content").write_bytes(CONTENT)
    # -keyopt applies to the -signer/-recip just before it, so options come after those.
    sign = ("-sign", "-binary", "-nodetach", "-md", "sha256", "-outform", "DER")
    _openssl(*sign, "-signer", str(cert), "-inkey", str(key), *sign_options,
             "-in", str(tmp_path / "content"), "-out", str(tmp_path / "inner"))  # fmt: skip
    _openssl("-encrypt", "-binary", "-aes128", "-outform", "DER",
             "-recip", str(recipient_pem), *encrypt_options, "-in", str(tmp_path / "inner"),
             "-out", str(tmp_path / "middle"))  # fmt: skip
    _openssl(*sign, "-signer", str(outer_cert), "-inkey", str(outer_key), *sign_options,
             *outer_options, "-in", str(tmp_path / "middle"),
             "-out", str(tmp_path / "sealed"))  # fmt: skip
    return (tmp_path / "sealed").read_bytes()


@pytest.mark.interop
@pytest.mark.parametrize(
    "sign_options",
    [(), ("-keyopt", "rsa_padding_mode:pss"), ("-stream",)],
    ids=["pkcs1v15", "pss", "ber-indefinite-length"],
)
def test_we_open_a_seal_made_by_openssl(
    pki: TestPki, doctor: Identity, tmp_path: Path, sign_options: tuple[str, ...]
) -> None:
    sealed = _openssl_seal(tmp_path, doctor, pki.insurer_encryption, sign_options=sign_options)
    opened = unseal(sealed, recipient=pki.insurer_encryption, trusted_ca=pki.ca.cert)
    assert opened == Unsealed(content=CONTENT, signer=doctor.cert)


@pytest.mark.interop
def test_we_open_an_openssl_seal_from_an_ec_sender(pki: TestPki, tmp_path: Path) -> None:
    ec_nurse = pki.issue_provider("40004001003", "85073003328", key_type="ec")
    sealed = _openssl_seal(tmp_path, ec_nurse, pki.insurer_encryption)
    assert unseal(sealed, recipient=pki.insurer_encryption, trusted_ca=pki.ca.cert).content == (
        CONTENT
    )


@pytest.mark.interop
@pytest.mark.parametrize(
    "encrypt_options",
    [
        ("-keyopt", "rsa_padding_mode:oaep"),
        ("-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256", "-aes256"),
    ],
    ids=["oaep-sha1-aes128", "oaep-sha256-aes256"],
)
def test_we_open_an_openssl_seal_with_oaep_key_transport(
    pki: TestPki, doctor: Identity, tmp_path: Path, encrypt_options: tuple[str, ...]
) -> None:
    sealed = _openssl_seal(
        tmp_path, doctor, pki.insurer_encryption, encrypt_options=encrypt_options
    )
    assert b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x07" in sealed  # id-RSAES-OAEP
    opened = unseal(sealed, recipient=pki.insurer_encryption, trusted_ca=pki.ca.cert)
    assert opened == Unsealed(content=CONTENT, signer=doctor.cert)


@pytest.mark.interop
def test_inner_and_outer_signed_by_different_certificates_is_refused(
    pki: TestPki, doctor: Identity, tmp_path: Path
) -> None:
    sealed = _openssl_seal(
        tmp_path, doctor, pki.insurer_encryption, outer_sender=pki.insurer_signing
    )
    with pytest.raises(SealError, match="another certificate") as excinfo:
        unseal(sealed, recipient=pki.insurer_encryption, trusted_ca=pki.ca.cert)
    assert _reason(excinfo) == ("inner signature", "wrong signer")


# -- refusals --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sealed(pki: TestPki, doctor: Identity) -> bytes:
    return seal(CONTENT, sender=doctor, recipients=[pki.insurer_encryption.cert])


@pytest.mark.parametrize(
    "data",
    [b"", b"<xml/>", b"\x30\x03\x06\x01\x00", b"\x30\x80" + b"\x30\x80" * 40],
    ids=["empty", "xml", "not-content-info", "indefinite-tower"],
)
def test_bytes_that_are_not_a_seal(pki: TestPki, data: bytes) -> None:
    with pytest.raises(SealError) as excinfo:
        unseal(data, recipient=pki.insurer_encryption, trusted_ca=None)
    assert _reason(excinfo) == ("outer signature", "not sealed")


def test_a_signed_message_without_an_envelope_inside(pki: TestPki, doctor: Identity) -> None:
    signed_only = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(CONTENT)
        .add_signer(doctor.cert, doctor.key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )
    with pytest.raises(SealError, match="not EnvelopedData") as excinfo:
        unseal(signed_only, recipient=pki.insurer_encryption, trusted_ca=pki.ca.cert)
    assert _reason(excinfo) == ("decryption", "not sealed")


def test_a_seal_for_someone_else(doctor: Identity, sealed: bytes) -> None:
    with pytest.raises(SealError, match="Dr Seal") as excinfo:
        unseal(sealed, recipient=doctor, trusted_ca=None)
    assert _reason(excinfo) == ("decryption", "not for me")


def test_truncated_and_trailing_bytes(pki: TestPki, sealed: bytes) -> None:
    for damaged in (sealed[:-1], sealed + b"\x00"):
        with pytest.raises(SealError) as excinfo:
            unseal(damaged, recipient=pki.insurer_encryption, trusted_ca=None)
        assert _reason(excinfo) == ("outer signature", "not sealed")


def _flip(data: bytes, needle: bytes) -> bytes:
    at = data.index(needle) + len(needle) // 2
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def test_tampered_ciphertext_and_signature(pki: TestPki, sealed: bytes) -> None:
    # A third into the seal lies inside the outer content, the EnvelopedData (the digest
    # breaks); the last byte is the end of the outer signature value.
    in_content = _flip(sealed, sealed[len(sealed) // 3 : len(sealed) // 3 + 8])
    with pytest.raises(SealError, match="digest") as excinfo:
        unseal(in_content, recipient=pki.insurer_encryption, trusted_ca=None)
    assert _reason(excinfo) == ("outer signature", "tampered")
    in_signature = sealed[:-1] + bytes([sealed[-1] ^ 0x01])
    with pytest.raises(SealError, match="does not verify") as excinfo:
        unseal(in_signature, recipient=pki.insurer_encryption, trusted_ca=None)
    assert _reason(excinfo) == ("outer signature", "tampered")


def test_signer_must_chain_to_the_trusted_ca_and_be_valid(
    pki: TestPki, other_pki: TestPki, sealed: bytes
) -> None:
    with pytest.raises(SealError, match="not issued by") as excinfo:
        unseal(sealed, recipient=pki.insurer_encryption, trusted_ca=other_pki.ca.cert)
    assert _reason(excinfo) == ("signer", "wrong signer")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3 * 365)
    with pytest.raises(SealError, match="wrong signer"):
        unseal(sealed, recipient=pki.insurer_encryption, trusted_ca=pki.ca.cert, at=later)
    # Without a trust anchor the same seal opens: trust is the caller's choice.
    assert unseal(sealed, recipient=pki.insurer_encryption, trusted_ca=None).content == CONTENT


@pytest.mark.interop
def test_an_outer_layer_without_the_signer_certificate_is_refused(
    pki: TestPki, doctor: Identity, tmp_path: Path
) -> None:
    sealed = _openssl_seal(tmp_path, doctor, pki.insurer_encryption, outer_options=("-nocerts",))
    with pytest.raises(SealError, match="not embedded") as excinfo:
        unseal(sealed, recipient=pki.insurer_encryption, trusted_ca=None)
    assert _reason(excinfo) == ("outer signature", "wrong signer")


def _layered(inner: bytes, sender: Identity, recipient: Identity) -> bytes:
    """Envelope and outer signature around a given inner layer, with the plain builders."""
    enveloped = (
        pkcs7.PKCS7EnvelopeBuilder()
        .set_data(inner)
        .add_recipient(recipient.cert)
        .encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(enveloped)
        .add_signer(sender.cert, sender.key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )


def test_an_inner_layer_changed_before_the_outer_signature_is_refused(
    pki: TestPki, doctor: Identity
) -> None:
    # The outer signature is intact, so only the inner check can catch this.
    inner = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(CONTENT)
        .add_signer(doctor.cert, doctor.key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )
    forged = inner.replace(b"binary-safe", b"binary-SAFE")
    with pytest.raises(SealError, match="digest") as excinfo:
        unseal(
            _layered(forged, doctor, pki.insurer_encryption),
            recipient=pki.insurer_encryption,
            trusted_ca=pki.ca.cert,
        )
    assert _reason(excinfo) == ("inner signature", "tampered")
    assert unseal(
        _layered(inner, doctor, pki.insurer_encryption),
        recipient=pki.insurer_encryption,
        trusted_ca=pki.ca.cert,
    ) == Unsealed(content=CONTENT, signer=doctor.cert)


def test_an_inner_layer_that_is_not_signed_data_is_refused(pki: TestPki, doctor: Identity) -> None:
    with pytest.raises(SealError) as excinfo:
        unseal(
            _layered(CONTENT, doctor, pki.insurer_encryption),
            recipient=pki.insurer_encryption,
            trusted_ca=None,
        )
    assert _reason(excinfo) == ("inner signature", "not sealed")
