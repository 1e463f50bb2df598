"""The simulator's test PKI: a root CA, the STS and MyCareNet keys, a TLS certificate and
provider certificates shaped like eHealth ones, plus PKCS#12 keystores for vendors.

Everything is generated once per data directory (`<data_dir>/pki/`) and loaded afterwards, so
restarting the simulator keeps the certificates vendors already trust.
"""

from __future__ import annotations

import base64
import datetime as dt
import errno
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import ClassVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

MYCARENET_CBE = "0820563481"
EHEALTH_OU = "eHealth-platform Belgium"
FEDERAL_GOVERNMENT = "Federal Government"

CA_LIFETIME = dt.timedelta(days=3650)
LEAF_LIFETIME = dt.timedelta(days=730)
# Certificates start well in the past: the simulator clock can be set back (to replay the 2025
# transition dates, say) and every key must still be valid then, as must a lagging client's.
BACKDATE = dt.timedelta(days=3 * 365)

# NIHII profession digit (domain-rules 2.2) -> eHealth certificate profession words allowed.
# Digit 4 covers nurses and midwives, 5 physiotherapists and speech therapists; the first
# word is the default.
PROFESSIONS_BY_DIGIT: dict[str, tuple[str, ...]] = {
    "1": ("PHYSICIAN",),
    "2": ("PHARMACIST",),  # hospital pharmacist
    "3": ("DENTIST",),
    "4": ("NURSE", "MIDWIFE"),
    "5": ("PHYSIOTHERAPIST", "LOGOPEDIST"),
    "6": ("PHARMACIST",),
}
# Professions the STS certifies whose NIHII profession digit no source gives: any digit is
# accepted, but only when the profession is named explicitly (`certs provider --profession`).
PROFESSIONS_ANY_DIGIT = ("DIETICIAN", "CLINICAL_PSYCHOLOGIST", "OPTICIAN", "PODOLOGIST")

# Organisation kinds the STS certifies (the words clients put in the attribute names, FHC
# STSServiceImpl.kt) -> the identifier type of the eHealth organisation certificate
# (CONN technicalconnector/utils/IdentifierType.java): `OU=NIHII-HOSPITAL=71022212`.
ORGANISATION_TYPES: dict[str, str] = {
    "medicalhouse": "NIHII-MEDICAL_HOUSE",
    "guardpost": "NIHII-GUARD_POST",
    "sortingcenter": "NIHII-SORTING_CENTER",
    "officedoctors": "NIHII-OFFICE_DOCTORS",
    "groupofnurses": "NIHII-GROUP",
    "reeducation": "NIHII-REEDUCATION",
    "hospital": "NIHII-HOSPITAL",
    "pharmacy": "NIHII-PHARMACY",
    "enterprise": "CBE",
    "ehp": "EHP",
}
_ORGANISATION_BY_ID_TYPE = {id_type: word for word, id_type in ORGANISATION_TYPES.items()}
# Identifier lengths of IdentifierType.java: organisation NIHII 8, CBE and EHP 10.
_ORGANISATION_ID_LENGTHS = {"CBE": 10, "EHP": 10}
_ORGANISATION_NIHII_LENGTH = 8

# The simulated Belgian eID CA: eID authentication certificates chain to it (client-quirks #8).
EID_AUTHENTICATION_SUFFIX = " (Authentication)"

_ROLE_FILES = ("ca", "sts", "insurer-signing", "insurer-encryption", "tls")
EID_CA_ROLE = "eid-ca"  # added later: a PKI made before it gets one on its next load


class KeystoreError(ValueError):
    """A keystore could not be read; the message says why and names the file."""


@dataclass(frozen=True)
class Identity:
    """A private key, its certificate and the issuer certificates (CA last)."""

    key: PrivateKey
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def cert_der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def cert_b64(self) -> str:
        return base64.b64encode(self.cert_der).decode("ascii")


@dataclass(frozen=True)
class CertSubject:
    """What an eHealth-style certificate subject says about its holder."""

    ssin: str | None
    nihii: str | None
    profession: str | None  # e.g. PHYSICIAN, from the NIHII-<PROFESSION>= field
    name: str | None
    cbe: str | None = None  # enterprise number of an organisation certificate
    # The STS word of an organisation certificate (hospital, medicalhouse, ...); None: a person.
    organisation_type: str | None = None
    ehp: str | None = None  # eHealth platform number of an EHP organisation certificate
    given_name: str | None = None  # GN / SN of an eID certificate
    surname: str | None = None
    problem: str | None = None  # why the subject could not be read (then every field is None)

    @property
    def is_organisation(self) -> bool:
        return self.organisation_type is not None


# ---------------------------------------------------------------------------------------------
# Subjects


def profession_for_nihii(nihii: str, profession: str | None = None) -> str:
    """The certificate profession for an 11-digit NIHII; `profession` picks among allowed ones."""
    if not (len(nihii) == 11 and nihii.isascii() and nihii.isdigit()):
        raise ValueError(f"NIHII {nihii!r} must be exactly 11 digits")
    if profession is not None and profession.upper() in PROFESSIONS_ANY_DIGIT:
        return profession.upper()
    allowed = PROFESSIONS_BY_DIGIT.get(nihii[0])
    if allowed is None:
        known = ", ".join(f"{d}={'/'.join(p)}" for d, p in PROFESSIONS_BY_DIGIT.items())
        raise ValueError(
            f"NIHII {nihii}: profession digit {nihii[0]} is not an individual care provider "
            f"(known: {known}; {', '.join(PROFESSIONS_ANY_DIGIT)} with any digit when named)"
        )
    if profession is None:
        return allowed[0]
    if profession.upper() not in allowed:
        raise ValueError(
            f"NIHII {nihii} (digit {nihii[0]}) cannot hold profession {profession.upper()}: "
            f"allowed {', '.join(allowed)}"
        )
    return profession.upper()


def _check_holder_name(name: str | None) -> None:
    if name is not None and not 0 < len(name.encode("utf-8")) <= 64:
        raise ValueError(f"holder name {name!r} must be 1 to 64 characters (X.509 CN limit)")


def provider_subject(
    nihii: str, ssin: str, name: str | None, profession: str, *, legacy: bool = False
) -> x509.Name:
    """A personal eHealth certificate subject, as real ones are written:

    C=BE, O=Federal Government, OU=eHealth-platform Belgium, OU=<holder>, OU=SSIN=<ssin>,
    OU=NIHII-<PROFESSION>=<nihii>, CN="SSIN=<ssin>, NIHII-<PROFESSION>=<nihii>". `legacy`
    writes the simulator's former shape (holder name in the CN), still read by parse_subject.
    """
    _check_holder_name(name)
    rdns = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, FEDERAL_GOVERNMENT),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, EHEALTH_OU),
    ]
    if name:
        rdns.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, name))
    ids = (f"SSIN={ssin}", f"NIHII-{profession}={nihii}")
    rdns += [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, i) for i in ids]
    cn = (name or ids[0]) if legacy else ", ".join(ids)
    rdns.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(rdns)


def organisation_identifier(kind: str, identifier: str) -> tuple[str, str]:
    """(certificate identifier type, identifier) for an organisation; ValueError if unusable."""
    id_type = ORGANISATION_TYPES.get(kind.lower())
    if id_type is None:
        raise ValueError(
            f"organisation type {kind!r} is not one the STS certifies: "
            f"{', '.join(ORGANISATION_TYPES)}"
        )
    length = _ORGANISATION_ID_LENGTHS.get(id_type, _ORGANISATION_NIHII_LENGTH)
    digits = identifier.strip()
    if id_type.startswith("NIHII") and len(digits) == 11 and digits.endswith("000"):
        digits = digits[:8]  # an institution NIHII padded to 11: the certificate holds 8
    if id_type == "CBE" and len(digits) == 9:
        digits = "0" + digits  # written as a number, the leading zero lost
    if not (len(digits) == length and digits.isascii() and digits.isdigit()):
        raise ValueError(f"{id_type} identifier {identifier!r} must be {length} digits")
    return id_type, digits


def organisation_subject(kind: str, identifier: str, name: str | None) -> x509.Name:
    """An eHealth organisation certificate subject: C=BE, O=Federal Government,
    OU=eHealth-platform Belgium, OU=<name>, OU=<TYPE>=<id>, CN="<TYPE>=<id>"."""
    _check_holder_name(name)
    id_type, digits = organisation_identifier(kind, identifier)
    ous = [EHEALTH_OU, *([name] if name else []), f"{id_type}={digits}"]
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, FEDERAL_GOVERNMENT),
            *(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou) for ou in ous),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{id_type}={digits}"),
        ]
    )


def eid_subject(ssin: str, given_name: str, surname: str) -> x509.Name:
    """A Belgian eID authentication certificate subject (C, CN, SN, GN, SERIALNUMBER)."""
    for label, value in (("given name", given_name), ("surname", surname)):
        if not value.strip():
            raise ValueError(f"an eID certificate needs a {label}")
    cn = f"{given_name} {surname}{EID_AUTHENTICATION_SUFFIX}"
    _check_holder_name(cn)
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.SURNAME, surname),
            x509.NameAttribute(NameOID.GIVEN_NAME, given_name),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, ssin),
        ]
    )


_KEY_VALUE = re.compile(r"^(SSIN|CBE|EHP|NIHII(?:-([A-Z_]+))?)=(\d+)$")


def parse_subject(cert: x509.Certificate) -> CertSubject:
    """Read SSIN, NIHII, profession or organisation, CBE and holder name from the subject.

    Total: a subject that cannot be decoded gives a CertSubject whose `problem` says why.
    Accepts the forms this PKI writes (current and legacy), the real eHealth variants (the
    CN holds `"SSIN=..., NIHII-PHYSICIAN=..."`, the holder name sits in an OU), eHealth
    organisation certificates (`NIHII-HOSPITAL=...`, `CBE=...`, `EHP=...`) and Belgian eID
    certificates (SSIN in SERIALNUMBER, GN and SN).
    """
    try:
        attributes = [(a.oid, a.value if isinstance(a.value, str) else "") for a in cert.subject]
    except ValueError as error:  # undecodable DER inside the Name
        return CertSubject(
            None, None, None, None, problem=f"the subject cannot be decoded ({error})"
        )
    return _read_subject(attributes)


def _read_subject(attributes: list[tuple[x509.ObjectIdentifier, str]]) -> CertSubject:
    found: dict[str, str] = {}
    profession = organisation = None
    plain_cn: str | None = None
    plain_ous: list[str] = []
    for oid, value in attributes:
        if oid == NameOID.SERIAL_NUMBER and len(value) == 11 and value.isdigit():
            found.setdefault("eid-ssin", value)  # eID: SERIALNUMBER = national number
        elif oid in (NameOID.GIVEN_NAME, NameOID.SURNAME):
            found.setdefault("gn" if oid == NameOID.GIVEN_NAME else "sn", value)
        if oid not in (NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.COMMON_NAME):
            continue
        plain = True
        for part in (p.strip().strip('"').strip() for p in value.split(",")):
            match = _KEY_VALUE.match(part)
            if match is None:
                continue
            plain = False
            key, kind, digits = match.groups()
            org = _ORGANISATION_BY_ID_TYPE.get(key)
            if key in ("SSIN", "CBE", "EHP"):
                found.setdefault(key, digits)
            else:
                found.setdefault("NIHII", digits)
                if org is not None:
                    organisation = organisation or org
                else:
                    profession = profession or kind
        if plain and value:
            if oid == NameOID.COMMON_NAME:
                plain_cn = value.removesuffix(EID_AUTHENTICATION_SUFFIX)
            elif value != EHEALTH_OU:
                plain_ous.append(value)
    ssin = found.get("SSIN") or found.get("eid-ssin")
    if organisation is None and ssin is None and profession is None:
        # No person and no NIHII institution: an EHP or a plain enterprise (CBE) certificate.
        organisation = "ehp" if "EHP" in found else "enterprise" if "CBE" in found else None
    return CertSubject(
        ssin=ssin,
        nihii=found.get("NIHII"),
        profession=profession,
        name=plain_cn or (plain_ous[0] if plain_ous else None),
        cbe=found.get("CBE"),
        organisation_type=organisation,
        ehp=found.get("EHP"),
        given_name=found.get("gn"),
        surname=found.get("sn"),
    )


def _name(*ous: str, cn: str, serial: str | None = None) -> x509.Name:
    rdns = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, FEDERAL_GOVERNMENT),
        *(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou) for ou in ous),
    ]
    if serial:
        rdns.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    rdns.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(rdns)


CA_SUBJECT = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mycarenet-sim (test only)"),
        x509.NameAttribute(NameOID.COMMON_NAME, "mycarenet-sim Test eHealth CA"),
    ]
)
STS_SUBJECT = _name(EHEALTH_OU, cn="STS")
# Stands for the Belgian eID chain (Belgium Root CA / Citizen CA): one self-signed CA that
# issues eID-style authentication certificates, trusted beside the eHealth test CA.
EID_CA_SUBJECT = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
        x509.NameAttribute(NameOID.COMMON_NAME, "mycarenet-sim Test Citizen CA"),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, "201900"),
    ]
)
INSURER_OUS = (EHEALTH_OU, "MyCareNet", f"CBE={MYCARENET_CBE}", "MYCARENET")


# ---------------------------------------------------------------------------------------------
# Certificate issuing


def _new_key(key_type: str) -> PrivateKey:
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"key type {key_type!r} is not supported: use 'rsa' or 'ec'")


def _key_usage(
    *,
    signature: bool = True,
    encipher: bool = False,
    content: bool = False,
    cert_sign: bool = False,
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signature,
        content_commitment=content,
        key_encipherment=encipher,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _issue(
    subject: x509.Name,
    key: PrivateKey,
    issuer: Identity | None,
    *,
    now: dt.datetime,
    lifetime: dt.timedelta,
    usage: x509.KeyUsage,
    eku: list[x509.ObjectIdentifier] | None = None,
    san: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    """Sign a certificate for `key`; `issuer=None` makes it self-signed (the root CA)."""
    is_ca = issuer is None
    signer_key = key if issuer is None else issuer.key
    issuer_name = subject if issuer is None else issuer.cert.subject
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + lifetime)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=0 if is_ca else None), True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(signer_key, hashes.SHA256())


def _new_ca(subject: x509.Name, now: dt.datetime) -> Identity:
    key = _new_key("rsa")
    cert = _issue(
        subject, key, None, now=now, lifetime=CA_LIFETIME, usage=_key_usage(cert_sign=True)
    )
    return Identity(key, cert)


def _generate(now: dt.datetime) -> dict[str, Identity]:
    ca = _new_ca(CA_SUBJECT, now)
    ca_cert = ca.cert

    def leaf(
        subject: x509.Name,
        usage: x509.KeyUsage,
        eku: list[x509.ObjectIdentifier] | None = None,
        san: list[x509.GeneralName] | None = None,
    ) -> Identity:
        key = _new_key("rsa")
        cert = _issue(
            subject, key, ca, now=now, lifetime=LEAF_LIFETIME, usage=usage, eku=eku, san=san
        )
        return Identity(key, cert, (ca_cert,))

    return {
        "ca": ca,
        EID_CA_ROLE: _new_ca(EID_CA_SUBJECT, now),
        "sts": leaf(STS_SUBJECT, _key_usage(content=True)),
        "insurer-signing": leaf(
            _name(*INSURER_OUS, cn="MYCARENET", serial=MYCARENET_CBE), _key_usage(content=True)
        ),
        "insurer-encryption": leaf(
            _name(*INSURER_OUS, "ETK", cn="MYCARENET", serial=MYCARENET_CBE),
            _key_usage(signature=False, encipher=True),
        ),
        "tls": leaf(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]),
            _key_usage(encipher=True),
            eku=[ExtendedKeyUsageOID.SERVER_AUTH],
            san=[
                x509.DNSName("localhost"),
                x509.IPAddress(IPv4Address("127.0.0.1")),
                x509.IPAddress(IPv6Address("::1")),
            ],
        ),
    }


# ---------------------------------------------------------------------------------------------
# Files


def _write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write via a temp file + rename so readers never see half a file; owner-only by default."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_identity(pki_dir: Path, role: str, chain: tuple[x509.Certificate, ...]) -> Identity:
    cert_path, key_path = pki_dir / f"{role}.pem", pki_dir / f"{role}.key"
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        # Our own files (0600, written by _create): skipping the RSA consistency check keeps
        # start-up fast (it costs ~50 ms per key).
        key = serialization.load_pem_private_key(
            key_path.read_bytes(), password=None, unsafe_skip_rsa_key_validation=True
        )
    except (OSError, ValueError) as error:
        raise ValueError(
            f"test PKI in {pki_dir} is damaged ({role}: {error}); delete that directory to "
            "generate a new one (vendors must then trust the new CA)"
        ) from error
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(f"{key_path}: unsupported key type {type(key).__name__}")
    return Identity(key, cert, chain)


def _load_or_add_eid_ca(pki_dir: Path, now: dt.datetime) -> Identity:
    """The eID CA of a PKI; one made before the eID CA existed gets it now, once.

    The key file is claimed with a hard link (fails if it exists), so when two processes
    upgrade together one key wins and the other waits for the winner's certificate.
    """
    cert_path, key_path = pki_dir / f"{EID_CA_ROLE}.pem", pki_dir / f"{EID_CA_ROLE}.key"
    if not key_path.exists():
        identity = _new_ca(EID_CA_SUBJECT, now)
        fd, tmp = tempfile.mkstemp(dir=pki_dir, prefix=f".{key_path.name}.")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(_key_pem(identity.key))
            os.link(tmp, key_path)
            _write_atomic(cert_path, identity.cert_pem, mode=0o644)
            return identity
        except FileExistsError:
            pass  # another process claimed it first: load theirs below
        finally:
            Path(tmp).unlink(missing_ok=True)
    for _ in range(100):
        if cert_path.exists():
            break
        time.sleep(0.05)
    return _load_identity(pki_dir, EID_CA_ROLE, ())


class TestPki:
    """The simulator's keys and certificates, stored in `<data_dir>/pki` (PEM, keys 0600)."""

    __test__: ClassVar[bool] = False  # not a pytest test class despite the name

    def __init__(self, data_dir: Path, identities: dict[str, Identity]) -> None:
        self.data_dir = data_dir
        self.ca = identities["ca"]
        self.sts = identities["sts"]
        self.insurer_signing = identities["insurer-signing"]
        self.insurer_encryption = identities["insurer-encryption"]
        self.tls = identities["tls"]
        self.eid_ca = identities[EID_CA_ROLE]

    @property
    def trusted_roots(self) -> tuple[x509.Certificate, ...]:
        """The CAs a caller's certificate may chain to: the eHealth test CA and the eID CA."""
        return (self.ca.cert, self.eid_ca.cert)

    @property
    def eid_ca_cert_path(self) -> Path:
        return self.pki_dir / f"{EID_CA_ROLE}.pem"

    @property
    def pki_dir(self) -> Path:
        return self.data_dir / "pki"

    @property
    def providers_dir(self) -> Path:
        return self.data_dir / "providers"

    @property
    def ca_cert_path(self) -> Path:
        return self.pki_dir / "ca.pem"

    @property
    def tls_cert_path(self) -> Path:
        return self.pki_dir / "tls.pem"

    @property
    def tls_key_path(self) -> Path:
        return self.pki_dir / "tls.key"

    def role_cert_paths(self) -> dict[str, Path]:
        """Role name -> certificate file, for listings."""
        return {role: self.pki_dir / f"{role}.pem" for role in (*_ROLE_FILES, EID_CA_ROLE)}

    @classmethod
    def load_or_create(cls, data_dir: Path, *, now: dt.datetime | None = None) -> TestPki:
        """`now`: when a new PKI starts being valid (conformance suites dated in the past)."""
        pki_dir = data_dir / "pki"
        if not pki_dir.is_dir():
            cls._create(data_dir, now or dt.datetime.now(dt.UTC))
        ca = _load_identity(pki_dir, "ca", ())
        identities = {"ca": ca}
        for role in _ROLE_FILES[1:]:
            identities[role] = _load_identity(pki_dir, role, (ca.cert,))
        identities[EID_CA_ROLE] = _load_or_add_eid_ca(pki_dir, now or dt.datetime.now(dt.UTC))
        return cls(data_dir, identities)

    @staticmethod
    def _create(data_dir: Path, now: dt.datetime) -> None:
        # Build the whole directory aside, then rename it into place in one step: a second
        # process starting at the same moment either wins the rename or loads the winner's.
        data_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=data_dir, prefix=".pki-"))
        try:
            for role, identity in _generate(now).items():
                (staging / f"{role}.pem").write_bytes(identity.cert_pem)
                _write_atomic(staging / f"{role}.key", _key_pem(identity.key))
            try:
                staging.rename(data_dir / "pki")
            except OSError as error:
                if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def issue_provider(
        self,
        nihii: str,
        ssin: str,
        name: str | None = None,
        key_type: str = "rsa",
        profession: str | None = None,
        *,
        now: dt.datetime | None = None,
        legacy_subject: bool = False,
    ) -> Identity:
        """A care provider's authentication identity; the cert is recorded for the ETK depot."""
        if not (len(ssin) == 11 and ssin.isascii() and ssin.isdigit()):
            raise ValueError(f"SSIN {ssin!r} must be exactly 11 digits")
        word = profession_for_nihii(nihii, profession)
        subject = provider_subject(nihii, ssin, name, word, legacy=legacy_subject)
        return self._issue_recorded(subject, nihii, key_type, now)

    def issue_organisation(
        self,
        kind: str,
        identifier: str,
        name: str | None = None,
        key_type: str = "rsa",
        *,
        now: dt.datetime | None = None,
    ) -> Identity:
        """An eHealth organisation certificate (hospital, medical house, CBE, ...), recorded
        under its identifier for the ETK depot."""
        _, digits = organisation_identifier(kind, identifier)
        return self._issue_recorded(organisation_subject(kind, digits, name), digits, key_type, now)

    def issue_eid(
        self,
        ssin: str,
        given_name: str,
        surname: str,
        key_type: str = "rsa",
        *,
        now: dt.datetime | None = None,
    ) -> Identity:
        """A Belgian eID authentication certificate, issued by the simulated eID CA.

        Not recorded for the ETK depot: an eID has no ETK."""
        if not (len(ssin) == 11 and ssin.isascii() and ssin.isdigit()):
            raise ValueError(f"SSIN {ssin!r} must be exactly 11 digits")
        key = _new_key(key_type)
        cert = _issue(
            eid_subject(ssin, given_name, surname),
            key,
            self.eid_ca,
            now=now or dt.datetime.now(dt.UTC),
            lifetime=LEAF_LIFETIME,
            usage=_key_usage(),
            eku=[ExtendedKeyUsageOID.CLIENT_AUTH],
        )
        return Identity(key, cert, (self.eid_ca.cert,))

    def _issue_recorded(
        self, subject: x509.Name, file_id: str, key_type: str, now: dt.datetime | None
    ) -> Identity:
        key = _new_key(key_type)
        is_rsa = isinstance(key, rsa.RSAPrivateKey)
        cert = _issue(
            subject,
            key,
            self.ca,
            now=now or dt.datetime.now(dt.UTC),
            lifetime=LEAF_LIFETIME,
            # keyEncipherment only makes sense for RSA (key transport); EC gets signature only.
            usage=_key_usage(content=True, encipher=is_rsa),
            eku=[ExtendedKeyUsageOID.CLIENT_AUTH],
        )
        self.providers_dir.mkdir(parents=True, exist_ok=True)
        current = self.providers_dir / f"{file_id}.pem"
        if current.exists():
            # Keep the earlier certificate (its keystore still works); <id>.pem is the newest.
            previous = x509.load_pem_x509_certificate(current.read_bytes())
            archived = self.providers_dir / f"{file_id}.{previous.serial_number:x}.pem"
            current.replace(archived)
        _write_atomic(current, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
        return Identity(key, cert, (self.ca.cert,))

    def provider_certificate_files(self) -> list[tuple[Path, x509.Certificate]]:
        """(file, certificate) for every provider certificate issued in this data dir.

        The newest certificate of each holder (`<id>.pem`) comes before the earlier ones
        (`<id>.<serial>.pem`), so a lookup that takes the first match serves the newest.
        """
        found: list[tuple[Path, x509.Certificate]] = []
        paths = sorted(self.providers_dir.glob("*.pem"), key=lambda p: (p.name.count("."), p.name))
        for path in paths:
            try:
                found.append((path, x509.load_pem_x509_certificate(path.read_bytes())))
            except ValueError as error:
                raise ValueError(f"{path} is not a PEM certificate: {error}") from error
        return found

    def provider_certificates(self) -> list[x509.Certificate]:
        return [cert for _, cert in self.provider_certificate_files()]


# ---------------------------------------------------------------------------------------------
# Keystores


def write_keystore(
    path: Path, identity: Identity, password: str, alias: str = "authentication"
) -> None:
    """Write a PKCS#12 keystore like eHealth's (key + cert under `alias`, chain as CA certs)."""
    if not password:
        raise ValueError("a keystore password must not be empty")
    # The legacy PKCS#12 protection eHealth's keystores use (3DES, SHA-1 MAC): Java stacks
    # that put BouncyCastle first (WSS4J 1.6's WSSConfig.init) cannot open AES/PBKDF2 ones.
    protection = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(2048)
        .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
        .hmac_hash(hashes.SHA1())  # noqa: S303 (the format eHealth keystores use)
        .build(password.encode("utf-8"))
    )
    data = pkcs12.serialize_key_and_certificates(
        alias.encode("utf-8"), identity.key, identity.cert, list(identity.chain) or None, protection
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(path, data)


def _looks_like_pkcs12(data: bytes) -> bool:
    # PFX ::= SEQUENCE { version INTEGER (3), ... }: check the DER header only.
    if len(data) < 5 or data[0] != 0x30:
        return False
    first = data[1]
    offset = 2 if first < 0x80 else 2 + (first & 0x7F)
    return data[offset : offset + 3] == b"\x02\x01\x03"


def load_keystore(path: Path, password: str) -> Identity:
    """Load a PKCS#12 keystore; `KeystoreError` says what is wrong with it."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise KeystoreError(f"cannot read keystore {path}: {error.strerror or error}") from None
    if not _looks_like_pkcs12(data):
        raise KeystoreError(f"{path} is not a PKCS#12 keystore (.p12/.pfx)")
    try:
        loaded = pkcs12.load_pkcs12(data, password.encode("utf-8"))
    except ValueError:
        raise KeystoreError(
            f"wrong password for keystore {path} (or the file is damaged)"
        ) from None
    key = loaded.key
    if key is None:
        raise KeystoreError(f"keystore {path} holds no private key")
    if loaded.cert is None:
        raise KeystoreError(f"keystore {path} holds a private key but no certificate")
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise KeystoreError(f"keystore {path}: unsupported key type {type(key).__name__}")
    cert = loaded.cert.certificate
    if cert.public_key() != key.public_key():
        raise KeystoreError(f"keystore {path}: the private key does not match the certificate")
    chain = tuple(c.certificate for c in loaded.additional_certs)
    return Identity(key, cert, chain)


# ---------------------------------------------------------------------------------------------
# Verification


def chains_to(
    cert: x509.Certificate, ca_cert: x509.Certificate, at: dt.datetime | None = None
) -> bool:
    """True if `ca_cert` issued `cert` (name and signature) and both are valid at `at` (now)."""
    moment = at or dt.datetime.now(dt.UTC)
    for c in (cert, ca_cert):
        if not c.not_valid_before_utc <= moment <= c.not_valid_after_utc:
            return False
    try:
        # Checks issuer name == CA subject and the signature (RSA PKCS#1 v1.5 or ECDSA).
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def issued_by_any(
    cert: x509.Certificate, roots: tuple[x509.Certificate, ...], at: dt.datetime | None = None
) -> bool:
    """True if one of `roots` issued `cert` and both are valid at `at` (now)."""
    return any(chains_to(cert, root, at) for root in roots)
