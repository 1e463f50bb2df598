"""The test PKI: generated once per data dir, eHealth-shaped subjects, keystores, chain checks."""

from __future__ import annotations

import datetime as dt
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from simulator.security.pki import (
    BACKDATE,
    CertSubject,
    Identity,
    KeystoreError,
    TestPki,
    chains_to,
    load_keystore,
    parse_subject,
    write_keystore,
)

SSIN = "85073003328"
NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.load_or_create(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def doctor(pki: TestPki) -> Identity:
    return pki.issue_provider("10185748004", SSIN, "Jan Peeters")


def _roles(pki: TestPki) -> dict[str, Identity]:
    return {
        "sts": pki.sts,
        "insurer-signing": pki.insurer_signing,
        "insurer-encryption": pki.insurer_encryption,
        "tls": pki.tls,
    }


# --- generation and reload ---------------------------------------------------------------------


def test_first_call_writes_pems_with_private_keys_owner_only(pki: TestPki) -> None:
    for role in ("ca", "sts", "insurer-signing", "insurer-encryption", "tls"):
        assert (pki.pki_dir / f"{role}.pem").read_bytes().startswith(b"-----BEGIN CERTIFICATE")
        key_mode = stat.S_IMODE((pki.pki_dir / f"{role}.key").stat().st_mode)
        assert key_mode == 0o600, role
    assert pki.ca_cert_path.is_file() and pki.tls_cert_path.is_file()
    assert pki.tls_key_path.is_file()
    assert not [p for p in pki.data_dir.iterdir() if p.name.startswith(".pki-")]


def test_second_call_loads_the_same_keys(pki: TestPki) -> None:
    again = TestPki.load_or_create(pki.data_dir)
    assert again.ca.cert == pki.ca.cert
    assert again.insurer_encryption.cert == pki.insurer_encryption.cert
    assert again.sts.key.public_key() == pki.sts.key.public_key()


def test_two_processes_starting_together_agree_on_one_ca(tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path; from simulator.security.pki import TestPki;"
        "print(TestPki.load_or_create(Path(sys.argv[1])).ca.cert.serial_number)"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    serials = {proc.communicate(timeout=30)[0].strip() for proc in procs}
    assert all(proc.returncode == 0 for proc in procs)
    assert len(serials) == 1
    assert serials == {str(TestPki.load_or_create(tmp_path).ca.cert.serial_number)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pki"]


def test_damaged_pki_says_which_file_and_what_to_do(tmp_path: Path) -> None:
    TestPki.load_or_create(tmp_path)
    (tmp_path / "pki" / "sts.key").write_text("garbage")
    with pytest.raises(ValueError, match=r"sts.*delete that directory"):
        TestPki.load_or_create(tmp_path)


# --- the fixed identities ----------------------------------------------------------------------


def test_all_keys_are_rsa_2048_and_chain_to_the_ca(pki: TestPki) -> None:
    assert chains_to(pki.ca.cert, pki.ca.cert)
    for role, identity in _roles(pki).items():
        assert isinstance(identity.key, rsa.RSAPrivateKey), role
        assert identity.key.key_size == 2048
        assert identity.chain == (pki.ca.cert,)
        assert chains_to(identity.cert, pki.ca.cert), role


def test_validity_starts_three_years_early_ca_ten_years_others_two(pki: TestPki) -> None:
    # Valid back to three years ago so the simulator clock can be set back (2025 transition).
    ca = pki.ca.cert
    assert abs(NOW - ca.not_valid_before_utc - BACKDATE) < dt.timedelta(hours=1)
    assert 3640 <= (ca.not_valid_after_utc - NOW).days <= 3660
    for role, identity in _roles(pki).items():
        assert identity.cert.not_valid_before_utc <= NOW - BACKDATE + dt.timedelta(hours=1), role
        assert 720 <= (identity.cert.not_valid_after_utc - NOW).days <= 740, role
    ca_constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert ca_constraints.ca
    leaf_constraints = pki.sts.cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert not leaf_constraints.value.ca


def test_tls_certificate_serves_localhost_and_loopback(pki: TestPki) -> None:
    import ipaddress

    san = pki.tls.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    eku = pki.tls.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_sts_and_insurer_subjects(pki: TestPki) -> None:
    assert parse_subject(pki.sts.cert).name == "STS"
    for identity in (pki.insurer_signing, pki.insurer_encryption):
        subject = parse_subject(identity.cert)
        assert subject.cbe == "0820563481"
        assert subject.name == "MYCARENET"
        assert subject.ssin is None and subject.nihii is None
        ous = identity.cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
        assert "MYCARENET" in [ou.value for ou in ous]
    encryption_usage = pki.insurer_encryption.cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert encryption_usage.value.key_encipherment
    assert not encryption_usage.value.digital_signature


# --- providers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nihii", "profession"),
    [
        ("10185748004", "PHYSICIAN"),
        ("21234567001", "PHARMACIST"),
        ("30202929001", "DENTIST"),
        ("41234567001", "NURSE"),
        ("54263481527", "PHYSIOTHERAPIST"),
        ("60567689801", "PHARMACIST"),
    ],
)
def test_provider_subject_round_trips(pki: TestPki, nihii: str, profession: str) -> None:
    identity = pki.issue_provider(nihii, SSIN, "An Janssens")
    assert parse_subject(identity.cert) == CertSubject(
        ssin=SSIN, nihii=nihii, profession=profession, name="An Janssens"
    )
    subject = identity.cert.subject
    assert subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "BE"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == (
        "Federal Government"
    )
    ous = [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]
    assert {"eHealth-platform Belgium", f"SSIN={SSIN}", f"NIHII-{profession}={nihii}"} <= set(ous)


def test_provider_subject_is_the_real_ehealth_form(pki: TestPki) -> None:
    # Real personal certificates: identifiers in the CN, the holder name in an OU.
    identity = pki.issue_provider("10185748004", SSIN, "Jan Peeters")
    cn = identity.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == f"SSIN={SSIN}, NIHII-PHYSICIAN=10185748004"
    assert parse_subject(identity.cert).name == "Jan Peeters"
    nameless = pki.issue_provider("10185748004", SSIN)
    assert parse_subject(nameless.cert).name is None
    assert parse_subject(nameless.cert).ssin == SSIN


def test_the_legacy_provider_subject_is_still_read(pki: TestPki) -> None:
    identity = pki.issue_provider("10185748004", SSIN, "Jan Peeters", legacy_subject=True)
    cn = identity.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == "Jan Peeters"
    assert parse_subject(identity.cert) == CertSubject(
        ssin=SSIN, nihii="10185748004", profession="PHYSICIAN", name="Jan Peeters"
    )


@pytest.mark.parametrize(
    ("nihii", "profession"),
    [
        ("51234567001", "LOGOPEDIST"),
        ("81234567001", "DIETICIAN"),
        ("91234567001", "CLINICAL_PSYCHOLOGIST"),
        ("61234567001", "OPTICIAN"),
        ("51234567001", "PODOLOGIST"),
    ],
)
def test_the_new_professions(pki: TestPki, nihii: str, profession: str) -> None:
    identity = pki.issue_provider(nihii, SSIN, "An Janssens", profession=profession.lower())
    assert parse_subject(identity.cert).profession == profession


def test_nurse_digit_may_be_a_midwife_but_not_a_physician(pki: TestPki) -> None:
    midwife = pki.issue_provider("41234567001", SSIN, profession="midwife")
    assert parse_subject(midwife.cert).profession == "MIDWIFE"
    with pytest.raises(ValueError, match="cannot hold profession PHYSICIAN"):
        pki.issue_provider("41234567001", SSIN, profession="PHYSICIAN")


@pytest.mark.parametrize(
    ("nihii", "ssin", "message"),
    [
        ("1018574800", SSIN, "exactly 11 digits"),
        ("1018574800a", SSIN, "exactly 11 digits"),
        ("71040622000", SSIN, "digit 7 is not an individual care provider"),
        ("01234567001", SSIN, "digit 0"),
        ("10185748004", "8507300332", "SSIN"),
    ],
)
def test_bad_identifiers_are_refused(pki: TestPki, nihii: str, ssin: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pki.issue_provider(nihii, ssin)


def test_overlong_name_is_refused_with_the_limit(pki: TestPki) -> None:
    with pytest.raises(ValueError, match="64 characters"):
        pki.issue_provider("10185748004", SSIN, "x" * 65)


def test_unknown_key_type_is_refused(pki: TestPki) -> None:
    with pytest.raises(ValueError, match="'dsa'"):
        pki.issue_provider("10185748004", SSIN, key_type="dsa")


def test_rsa_provider_key_and_usages(doctor: Identity, pki: TestPki) -> None:
    assert isinstance(doctor.key, rsa.RSAPrivateKey) and doctor.key.key_size == 2048
    usage = doctor.cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment and not usage.key_agreement
    eku = doctor.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in list(eku)
    assert chains_to(doctor.cert, pki.ca.cert)


def test_ec_provider_is_p256_without_key_encipherment(pki: TestPki) -> None:
    identity = pki.issue_provider("30202929001", SSIN, key_type="ec")
    assert isinstance(identity.key, ec.EllipticCurvePrivateKey)
    assert identity.key.curve.name == "secp256r1"
    usage = identity.cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_encipherment and not usage.key_agreement
    assert chains_to(identity.cert, pki.ca.cert)


def test_issued_certificates_are_recorded_without_keys(tmp_path: Path) -> None:
    pki = TestPki.load_or_create(tmp_path)
    assert pki.provider_certificates() == []
    first = pki.issue_provider("10185748004", SSIN, "First")
    pki.issue_provider("30202929001", SSIN, "Dentist")
    second = pki.issue_provider("10185748004", SSIN, "Second")
    files = {p.name for p in pki.providers_dir.iterdir()}
    # The earlier certificate is kept (its keystore still works); <nihii>.pem is the newest.
    assert files == {
        "10185748004.pem",
        f"10185748004.{first.cert.serial_number:x}.pem",
        "30202929001.pem",
    }
    certs = pki.provider_certificates()
    assert first.cert in certs and second.cert in certs
    assert certs.index(second.cert) < certs.index(first.cert)  # lookups serve the newest
    for path in pki.providers_dir.iterdir():
        assert b"PRIVATE KEY" not in path.read_bytes()


# --- parse_subject on other shapes --------------------------------------------------------------


def _self_signed(name: x509.Name) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


def test_parse_subject_reads_the_real_ehealth_combined_cn() -> None:
    # Shape of real eHealth certificates: the identifiers in a quoted CN, the name in an OU.
    ou, cn = NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.COMMON_NAME
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Federal Government"),
            x509.NameAttribute(ou, "eHealth-platform Belgium"),
            x509.NameAttribute(ou, "Els Peeters"),
            x509.NameAttribute(ou, '"SSIN=85073003328"'),
            x509.NameAttribute(ou, "NIHII-DENTIST=30202929001"),
            x509.NameAttribute(cn, "SSIN=85073003328, NIHII-DENTIST=30202929001"),
        ]
    )
    assert parse_subject(_self_signed(name)) == CertSubject(
        ssin=SSIN, nihii="30202929001", profession="DENTIST", name="Els Peeters"
    )


def test_parse_subject_of_a_foreign_certificate_finds_nothing() -> None:
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme")])
    assert parse_subject(_self_signed(name)) == CertSubject(None, None, None, None)


# --- keystores -----------------------------------------------------------------------------------


def test_keystore_round_trip(doctor: Identity, tmp_path: Path) -> None:
    path = tmp_path / "doctor.p12"
    write_keystore(path, doctor, "s3cret")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_keystore(path, "s3cret")
    assert loaded.cert == doctor.cert
    assert loaded.chain == doctor.chain
    assert loaded.key.public_key() == doctor.key.public_key()


def test_ec_keystore_round_trip(pki: TestPki, tmp_path: Path) -> None:
    identity = pki.issue_provider("54263481527", SSIN, key_type="ec")
    write_keystore(tmp_path / "ec.p12", identity, "pw")
    loaded = load_keystore(tmp_path / "ec.p12", "pw")
    assert isinstance(loaded.key, ec.EllipticCurvePrivateKey)
    assert loaded.cert == identity.cert


@pytest.mark.interop
def test_openssl_reads_the_keystore_with_the_ehealth_alias(
    doctor: Identity, tmp_path: Path
) -> None:
    path = tmp_path / "doctor.p12"
    write_keystore(path, doctor, "s3cret")
    result = subprocess.run(
        ["openssl", "pkcs12", "-info", "-nokeys", "-in", str(path), "-passin", "pass:s3cret"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "friendlyName: authentication" in result.stdout
    assert "NIHII-PHYSICIAN=10185748004" in result.stdout


def test_wrong_password_is_named(doctor: Identity, tmp_path: Path) -> None:
    path = tmp_path / "doctor.p12"
    write_keystore(path, doctor, "right")
    with pytest.raises(KeystoreError, match=r"wrong password for keystore .*doctor\.p12"):
        load_keystore(path, "wrong")


def test_not_a_keystore_missing_file_and_keyless_keystore(doctor: Identity, tmp_path: Path) -> None:
    pem = tmp_path / "cert.pem"
    pem.write_bytes(doctor.cert_pem)
    with pytest.raises(KeystoreError, match="is not a PKCS#12 keystore"):
        load_keystore(pem, "x")
    with pytest.raises(KeystoreError, match="cannot read keystore"):
        load_keystore(tmp_path / "missing.p12", "x")
    keyless = tmp_path / "keyless.p12"
    keyless.write_bytes(
        pkcs12.serialize_key_and_certificates(
            None, None, None, [doctor.cert], serialization.BestAvailableEncryption(b"pw")
        )
    )
    with pytest.raises(KeystoreError, match="holds no private key"):
        load_keystore(keyless, "pw")


def test_empty_password_is_refused(doctor: Identity, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="password"):
        write_keystore(tmp_path / "x.p12", doctor, "")


def test_identity_encodings(doctor: Identity) -> None:
    import base64

    assert x509.load_pem_x509_certificate(doctor.cert_pem) == doctor.cert
    assert x509.load_der_x509_certificate(doctor.cert_der) == doctor.cert
    assert base64.b64decode(doctor.cert_b64) == doctor.cert_der


# --- chains_to -----------------------------------------------------------------------------------


def test_chains_to_refuses_a_forged_issuer_name(pki: TestPki, doctor: Identity) -> None:
    # Same issuer name as our CA, signed by another key: name alone must not be enough.
    rogue_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = (
        x509.CertificateBuilder()
        .subject_name(doctor.cert.subject)
        .issuer_name(pki.ca.cert.subject)
        .public_key(doctor.key.public_key())
        .serial_number(7)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=1))
        .sign(rogue_key, hashes.SHA256())
    )
    assert not chains_to(forged, pki.ca.cert)
    assert not chains_to(doctor.cert, pki.sts.cert)  # wrong issuer


def test_chains_to_checks_validity(pki: TestPki, doctor: Identity) -> None:
    assert chains_to(doctor.cert, pki.ca.cert, at=NOW + dt.timedelta(days=365))
    assert not chains_to(doctor.cert, pki.ca.cert, at=NOW + dt.timedelta(days=800))
    assert chains_to(doctor.cert, pki.ca.cert, at=NOW - BACKDATE + dt.timedelta(days=1))
    assert not chains_to(doctor.cert, pki.ca.cert, at=NOW - BACKDATE - dt.timedelta(days=2))


def test_chains_to_verifies_ecdsa_issuers() -> None:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "EC CA")])
    ca = _self_signed_with(ca_key, ca_name, ca_name)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leaf")])
    leaf = _self_signed_with(ca_key, leaf_name, ca_name, leaf_key.public_key())
    assert chains_to(leaf, ca)
    other = _self_signed_with(ec.generate_private_key(ec.SECP256R1()), ca_name, ca_name)
    assert not chains_to(leaf, other)


def _self_signed_with(
    signer: ec.EllipticCurvePrivateKey,
    subject: x509.Name,
    issuer: x509.Name,
    public: ec.EllipticCurvePublicKey | None = None,
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public or signer.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=1))
        .sign(signer, hashes.SHA256())
    )


# --- organisations, eID, malformed subjects (issue 10) -----------------------------------------


@pytest.mark.parametrize(
    ("kind", "identifier", "id_type", "nihii", "cbe"),
    [
        ("hospital", "71022212", "NIHII-HOSPITAL", "71022212", None),
        ("medicalhouse", "94123456000", "NIHII-MEDICAL_HOUSE", "94123456", None),
        ("guardpost", "94012345", "NIHII-GUARD_POST", "94012345", None),
        ("pharmacy", "60567689", "NIHII-PHARMACY", "60567689", None),
        ("groupofnurses", "40123456", "NIHII-GROUP", "40123456", None),
        ("enterprise", "820563481", "CBE", None, "0820563481"),
    ],
)
def test_organisation_certificates(
    pki: TestPki, kind: str, identifier: str, id_type: str, nihii: str | None, cbe: str | None
) -> None:
    identity = pki.issue_organisation(kind, identifier, "Test Org")
    value = nihii or cbe
    cn = identity.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == f"{id_type}={value}"
    subject = parse_subject(identity.cert)
    assert (subject.organisation_type, subject.nihii, subject.cbe, subject.ssin) == (
        kind,
        nihii,
        cbe,
        None,
    )
    assert subject.is_organisation and subject.name == "Test Org"
    assert chains_to(identity.cert, pki.ca.cert)
    assert (pki.providers_dir / f"{value}.pem").is_file()  # for the ETK depot


def test_organisation_identifiers_are_checked(pki: TestPki) -> None:
    with pytest.raises(ValueError, match="not one the STS certifies"):
        pki.issue_organisation("bakery", "71022212")
    with pytest.raises(ValueError, match="8 digits"):
        pki.issue_organisation("hospital", "7102221")


def test_eid_certificates_chain_to_the_eid_ca(pki: TestPki) -> None:
    from simulator.security.pki import issued_by_any

    eid = pki.issue_eid(SSIN, "Jan Marie", "Peeters")
    # As on a real card: C=BE, CN=<GN SN> (Authentication), SN, GN, SERIALNUMBER=<SSIN>.
    assert [(a.oid, a.value) for a in eid.cert.subject] == [
        (NameOID.COUNTRY_NAME, "BE"),
        (NameOID.COMMON_NAME, "Jan Marie Peeters (Authentication)"),
        (NameOID.SURNAME, "Peeters"),
        (NameOID.GIVEN_NAME, "Jan Marie"),
        (NameOID.SERIAL_NUMBER, SSIN),
    ]
    subject = parse_subject(eid.cert)
    assert (subject.ssin, subject.given_name, subject.surname, subject.name) == (
        SSIN,
        "Jan Marie",
        "Peeters",
        "Jan Marie Peeters",
    )
    assert subject.nihii is None and not subject.is_organisation
    assert chains_to(eid.cert, pki.eid_ca.cert) and not chains_to(eid.cert, pki.ca.cert)
    assert issued_by_any(eid.cert, pki.trusted_roots)
    assert pki.eid_ca_cert_path.read_bytes() == pki.eid_ca.cert_pem
    assert not list(pki.providers_dir.glob(f"*{SSIN}*"))  # an eID has no ETK


def test_a_pki_made_before_the_eid_ca_gets_one(tmp_path: Path) -> None:
    pki = TestPki.load_or_create(tmp_path)
    (pki.pki_dir / "eid-ca.pem").unlink()
    (pki.pki_dir / "eid-ca.key").unlink()
    upgraded = TestPki.load_or_create(tmp_path)
    assert upgraded.ca.cert == pki.ca.cert and upgraded.eid_ca.cert != pki.eid_ca.cert
    assert TestPki.load_or_create(tmp_path).eid_ca.cert == upgraded.eid_ca.cert


def test_real_organisation_and_eid_subjects_are_read() -> None:
    ou, cn = NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.COMMON_NAME
    hospital = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Federal Government"),
            x509.NameAttribute(ou, "eHealth-platform Belgium"),
            x509.NameAttribute(ou, "AZ Test"),
            x509.NameAttribute(ou, '"NIHII-HOSPITAL=71022212"'),
            x509.NameAttribute(cn, "NIHII-HOSPITAL=71022212, MYAPP"),
        ]
    )
    subject = parse_subject(_self_signed(hospital))
    assert (subject.organisation_type, subject.nihii, subject.name) == (
        "hospital",
        "71022212",
        "AZ Test",
    )
    # The insurer's own certificates (OU=CBE=..., SERIALNUMBER=<10-digit CBE>) read as an
    # enterprise, never as a person.
    insurer = parse_subject(
        _self_signed(
            x509.Name(
                [
                    x509.NameAttribute(ou, "CBE=0820563481"),
                    x509.NameAttribute(NameOID.SERIAL_NUMBER, "0820563481"),
                    x509.NameAttribute(cn, "MYCARENET"),
                ]
            )
        )
    )
    assert (insurer.organisation_type, insurer.cbe, insurer.ssin) == (
        "enterprise",
        "0820563481",
        None,
    )


def resign_with_patched_subject(
    identity: Identity, issuer: Identity, placeholder: bytes, replacement: bytes
) -> x509.Certificate:
    """`identity`'s certificate with bytes of its TBS replaced and signed again by `issuer`:
    a certificate a CA really issued whose subject DER cannot be decoded."""
    der = identity.cert.public_bytes(serialization.Encoding.DER)
    tbs = identity.cert.tbs_certificate_bytes
    assert len(placeholder) == len(replacement) and tbs.count(placeholder) == 1
    patched = tbs.replace(placeholder, replacement)
    assert isinstance(issuer.key, rsa.RSAPrivateKey)
    from cryptography.hazmat.primitives.asymmetric import padding

    signature = issuer.key.sign(patched, padding.PKCS1v15(), hashes.SHA256())
    start = der.index(tbs) + len(tbs)
    algorithm = der[start : start + 2 + der[start + 1]]  # short-form SEQUENCE (15 bytes)
    bits = b"\x00" + signature
    body = patched + algorithm + b"\x03" + _der_length(len(bits)) + bits
    return x509.load_der_x509_certificate(b"\x30" + _der_length(len(body)) + body)


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def test_parse_subject_is_total_on_an_undecodable_subject(pki: TestPki) -> None:
    identity = pki.issue_provider("10185748004", SSIN, "QQQQQQQQ")
    broken = resign_with_patched_subject(identity, pki.ca, b"QQQQQQQQ", b"\xff\xfe" * 4)
    assert chains_to(broken, pki.ca.cert)  # really issued by the CA
    with pytest.raises(ValueError):
        broken.subject.rfc4514_string()
    subject = parse_subject(broken)
    assert subject.problem is not None and "cannot be decoded" in subject.problem
    assert (subject.ssin, subject.nihii, subject.organisation_type) == (None, None, None)


def test_keystores_use_the_legacy_protection_of_ehealth_keystores(tmp_path: Path) -> None:
    """3DES and a SHA-1 MAC, readable by Java stacks that put BouncyCastle first (WSS4J
    1.6): checked with openssl, which names the algorithms it finds."""
    from simulator.security.pki import TestPki, write_keystore

    pki = TestPki.load_or_create(tmp_path)
    path = tmp_path / "gp.p12"
    write_keystore(path, pki.issue_provider("10394044003", "62040858223", "Ana Tanghe"), "pw")
    info = subprocess.run(
        ["openssl", "pkcs12", "-info", "-in", str(path), "-passin", "pass:pw", "-noout"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stderr
    assert "MAC: sha1" in info
    assert "pbeWithSHA1And3-KeyTripleDES-CBC" in info
