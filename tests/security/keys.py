"""Throwaway test PKI for the security tests: a CA, an STS, providers (RSA and EC).

Key generation is the slow part, so everything is made once per test session.
"""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from simulator.security.xmldsig import SigningKey

NOW = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Party:
    key: SigningKey
    cert: x509.Certificate

    def write(self, folder: Path, name: str) -> tuple[Path, Path]:
        """PEM files (key, cert) for xmlsec1."""
        key_path = folder / f"{name}.key.pem"
        cert_path = folder / f"{name}.cert.pem"
        key_path.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        cert_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        return key_path, cert_path


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def issue(
    common_name: str,
    issuer: Party | None,
    *,
    curve: bool = False,
    not_before: datetime = NOW - timedelta(days=30),
    not_after: datetime = NOW + timedelta(days=365),
) -> Party:
    key: SigningKey = (
        ec.generate_private_key(ec.SECP256R1())
        if curve
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    subject = _name(common_name)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    signer = issuer.key if issuer else key
    return Party(key, builder.sign(signer, hashes.SHA256()))


@dataclass(frozen=True)
class Pki:
    ca: Party
    sts: Party
    doctor: Party  # RSA
    nurse: Party  # EC P-256
    other_ca: Party
    stranger: Party  # issued by other_ca
    expired: Party  # issued by ca, expired before NOW


@functools.cache
def pki() -> Pki:
    ca = issue("Test Root CA", None)
    other = issue("Other Root CA", None)
    return Pki(
        ca=ca,
        sts=issue("eHealth STS", ca),
        doctor=issue("SSIN=85073003328, NIHII=10004001001", ca),
        nurse=issue("SSIN=85073003328, NIHII=40004001001", ca, curve=True),
        other_ca=other,
        stranger=issue("Stranger", other),
        expired=issue(
            "Expired", ca, not_before=NOW - timedelta(days=400), not_after=NOW - timedelta(days=1)
        ),
    )


# -- xmlsec1, the independent judge ---------------------------------------------------------

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
SAML1 = "urn:oasis:names:tc:SAML:1.0:assertion"
# xmlsec1 knows no schema for these: declare which attributes are ids, per element.
ID_ATTRS = [
    "--id-attr:Id", f"{SOAP}:Body",
    "--id-attr:Id", f"{WSU}:Timestamp",
    "--id-attr:Id", f"{WSSE}:BinarySecurityToken",
    "--id-attr:AssertionID", f"{SAML1}:Assertion",
]  # fmt: skip
# The message signature, not the STS signature inside the assertion (which comes first).
MESSAGE_SIGNATURE = (
    "/*[local-name()='Envelope']/*[local-name()='Header']/*[local-name()='Security']"
    "/*[local-name()='Signature']"
)


def xmlsec1(*args: str, id_attrs: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["xmlsec1", *args[:1], *ID_ATTRS, *id_attrs, *args[1:]],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def xmlsec1_verifies(
    document: Path,
    cert_pem: Path,
    *,
    node_xpath: str | None = None,
    id_attrs: Sequence[str] = (),
) -> bool:
    """True when xmlsec1 verifies the (first or selected) signature with this certificate."""
    extra = ["--node-xpath", node_xpath] if node_xpath else []
    result = xmlsec1(
        "--verify", "--pubkey-cert-pem", str(cert_pem), *extra, str(document), id_attrs=id_attrs
    )
    return result.returncode == 0 and "OK" in result.stdout + result.stderr
