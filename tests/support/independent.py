"""The independent judges: xmlsec1 for XML signatures, openssl for CMS and PKCS#12."""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import tempfile
import uuid
from pathlib import Path

WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"

# xmlsec1 matches ID attributes by local name, so "Id" also covers wsu:Id on these nodes.
WS_SECURITY_IDS = (
    f"{SOAP11}:Body",
    f"{WSU}:Timestamp",
    f"{WSSE}:BinarySecurityToken",
)


def xmlsec1_verify(
    document: bytes,
    *,
    key_cert_pem: bytes,
    node_xpath: str | None = None,
    id_nodes: tuple[str, ...] = WS_SECURITY_IDS,
    id_attribute: str = "Id",
) -> subprocess.CompletedProcess[str]:
    """Run `xmlsec1 --verify` with the signer's certificate as the only key it may use."""
    with tempfile.TemporaryDirectory() as work:
        xml = Path(work) / "signed.xml"
        cert = Path(work) / "signer.pem"
        xml.write_bytes(document)
        cert.write_bytes(key_cert_pem)
        command = ["xmlsec1", "--verify", "--pubkey-cert-pem", str(cert)]
        # Only the key given above: KeyInfo certificates must not be fetched or trusted.
        command += ["--enabled-key-data", "key-name,rsa,ecdsa"]
        for node in id_nodes:
            command += [f"--id-attr:{id_attribute}", node]
        if node_xpath:
            command += ["--node-xpath", node_xpath]
        command.append(str(xml))
        return subprocess.run(command, capture_output=True, text=True, timeout=60)


def openssl_cms_verify(der: bytes, ca_pem: bytes) -> subprocess.CompletedProcess[bytes]:
    """Verify a CMS SignedData against the CA; stdout is the signed content."""
    with tempfile.TemporaryDirectory() as work:
        cms = Path(work) / "signed.der"
        ca = Path(work) / "ca.pem"
        cms.write_bytes(der)
        ca.write_bytes(ca_pem)
        command = [
            "openssl",
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            str(cms),
            "-CAfile",
            str(ca),
            "-binary",
            "-purpose",
            "any",
        ]
        return subprocess.run(command, capture_output=True, timeout=60)


def xmlsec1_sign(
    template: bytes,
    *,
    private_key_pem: bytes,
    node_xpath: str,
    id_nodes: tuple[str, ...] = WS_SECURITY_IDS,
    other_ids: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """Fill the ds:Signature template at `node_xpath` with `xmlsec1 --sign`; returns the document.

    `other_ids` adds (attribute name, node) pairs for ids not called Id (e.g. BusinessContent's
    `id`)."""
    with tempfile.TemporaryDirectory() as work:
        xml = Path(work) / "template.xml"
        key = Path(work) / "key.pem"
        out = Path(work) / "signed.xml"
        xml.write_bytes(template)
        key.write_bytes(private_key_pem)
        command = ["xmlsec1", "--sign", "--privkey-pem", str(key), "--output", str(out)]
        for node in id_nodes:
            command += ["--id-attr:Id", node]
        for attribute, node in other_ids:
            command += [f"--id-attr:{attribute}", node]
        command += ["--node-xpath", node_xpath, str(xml)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise AssertionError(f"xmlsec1 --sign failed: {done.stderr}")
        return out.read_bytes()


def openssl_unseal(sealed: bytes, *, cert_pem: bytes, key_pem: bytes, ca_pem: bytes) -> bytes:
    """Open an eHealth seal with openssl alone: verify, decrypt, verify; returns the content."""
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        (folder / "cert.pem").write_bytes(cert_pem)
        (folder / "key.pem").write_bytes(key_pem)
        (folder / "ca.pem").write_bytes(ca_pem)
        (folder / "sealed.der").write_bytes(sealed)
        ca = ["-CAfile", str(folder / "ca.pem"), "-purpose", "any"]
        steps = [
            [
                "cms",
                "-verify",
                "-inform",
                "DER",
                "-binary",
                *ca,
                "-in",
                "sealed.der",
                "-out",
                "enveloped.der",
            ],
            [
                "cms",
                "-decrypt",
                "-inform",
                "DER",
                "-binary",
                "-recip",
                "cert.pem",
                "-inkey",
                "key.pem",
                "-in",
                "enveloped.der",
                "-out",
                "inner.der",
            ],
            # The inner signature does not embed the certificate: give it the outer signer's.
            [
                "cms",
                "-verify",
                "-inform",
                "DER",
                "-binary",
                *ca,
                "-certfile",
                "signer.pem",
                "-in",
                "inner.der",
                "-out",
                "content.bin",
            ],
        ]
        signer = subprocess.run(
            ["openssl", "pkcs7", "-inform", "DER", "-in", "sealed.der", "-print_certs"],
            cwd=folder,
            capture_output=True,
            timeout=60,
        )
        (folder / "signer.pem").write_bytes(signer.stdout)
        for step in steps:
            done = subprocess.run(["openssl", *step], cwd=folder, capture_output=True, timeout=60)
            if done.returncode != 0:
                raise AssertionError(f"openssl {' '.join(step[:2])} failed: {done.stderr.decode()}")
        return (folder / "content.bin").read_bytes()


DS = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
WSSE11 = "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd"
SAML11_TOKEN = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1"
SAML_ASSERTION_ID = (
    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.0#SAMLAssertionID"
)


def saml_hok_envelope(
    payload: bytes,
    assertion: bytes,
    private_key_pem: bytes,
    *,
    created: str,
    expires: str,
    timestamp_id: str,
    headers: bytes = b"",
    sign_body: bool = True,
    soap_prefix: str = "SOAP-ENV",
) -> bytes:
    """A SAML holder-of-key request laid out as WSS4J writes it (SAAJ's `SOAP-ENV` prefix,
    Timestamp, the assertion unchanged, the Signature), signed by xmlsec1, not by our code.

    `headers` are header blocks written before wsse:Security (WS-Addressing); `sign_body=False`
    signs the Timestamp only, as the connector's GenAsync handler does. The caller picks the
    Timestamp's id and instants, so one helper writes both the connector's and eHI's dialect.
    """
    body_id = f"id-{uuid.uuid4()}"
    references = ([f"#{body_id}"] if sign_body else []) + [f"#{timestamp_id}"]
    signed_info = "".join(
        f'<ds:Reference URI="{uri}"><ds:Transforms><ds:Transform Algorithm="{EXC_C14N}"/>'
        f'</ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
        "<ds:DigestValue/></ds:Reference>"
        for uri in references
    )
    assertion_id = _assertion_id(assertion)
    p = soap_prefix
    template = (
        f'<{p}:Envelope xmlns:{p}="{SOAP11}"><{p}:Header>'.encode()
        + headers
        + (
            f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}" {p}:mustUnderstand="1">'
            f'<wsu:Timestamp wsu:Id="{timestamp_id}"><wsu:Created>{created}</wsu:Created>'
            f"<wsu:Expires>{expires}</wsu:Expires></wsu:Timestamp>"
        ).encode()
        + assertion
        + (
            f'<ds:Signature xmlns:ds="{DS}"><ds:SignedInfo>'
            f'<ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/>'
            '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
            f"{signed_info}</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo>"
            f'<wsse:SecurityTokenReference xmlns:wsse11="{WSSE11}" wsse11:TokenType="{SAML11_TOKEN}">'
            f'<wsse:KeyIdentifier ValueType="{SAML_ASSERTION_ID}">{assertion_id}'
            "</wsse:KeyIdentifier></wsse:SecurityTokenReference></ds:KeyInfo></ds:Signature>"
            f"</wsse:Security></{p}:Header>"
            f'<{p}:Body xmlns:wsu="{WSU}" wsu:Id="{body_id}">'
        ).encode()
        + payload
        + f"</{p}:Body></{p}:Envelope>".encode()
    )
    return xmlsec1_sign(
        template,
        private_key_pem=private_key_pem,
        node_xpath="/*[local-name()='Envelope']/*[local-name()='Header']"
        "/*[local-name()='Security']/*[local-name()='Signature']",
    )


def _assertion_id(assertion: bytes) -> str:
    found = re.search(rb'AssertionID="([^"]+)"', assertion)
    if found is None:
        raise ValueError("the assertion has no AssertionID")
    return found.group(1).decode()


ENCRYPTED = "urn:be:cin:encrypted"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
ENVELOPED_SIGNATURE = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
DS_BASE64 = "http://www.w3.org/2000/09/xmldsig#base64"


def santuario_xades(
    known_content: bytes,
    *,
    private_key_pem: bytes,
    cert_der: bytes,
    issuer_name: str,
    serial_number: int,
    signing_time: str,
    transforms: tuple[str, ...] = (ENVELOPED_SIGNATURE, DS_BASE64, EXC_C14N),
) -> bytes:
    """An EncryptedKnownContent signed the way FHC/IFHC `EattestV3ServiceImpl.kt
    handleEncryption` does it, by xmlsec1: Santuario's XmlSignatureBuilder with
    encapsulate=true signs with the ds:Signature inside the document (enveloped-signature
    first), then its encapsulate-transformer swaps it for <Xades>base64(ds:Signature)</Xades>.
    `known_content` is the serialised EncryptedKnownContent holding one BusinessContent@id."""
    found = re.search(rb'<[^>]*BusinessContent[^>]*\bid="([^"]+)"', known_content)
    if found is None:
        raise ValueError("no BusinessContent with an id")
    content_id = found.group(1).decode()
    digest = base64.b64encode(hashlib.sha256(cert_der).digest()).decode()
    chain = "".join(f'<ds:Transform Algorithm="{t}"/>' for t in transforms)
    sha256 = "http://www.w3.org/2001/04/xmlenc#sha256"
    signature = (
        f'<ds:Signature xmlns:ds="{DS}" Id="xmldsig-fhc"><ds:SignedInfo>'
        f'<ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/>'
        '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
        f'<ds:Reference URI="#{content_id}"><ds:Transforms>{chain}</ds:Transforms>'
        f'<ds:DigestMethod Algorithm="{sha256}"/><ds:DigestValue/></ds:Reference>'
        '<ds:Reference URI="#xades-fhc" Type="http://uri.etsi.org/01903#SignedProperties">'
        f'<ds:Transforms><ds:Transform Algorithm="{EXC_C14N}"/></ds:Transforms>'
        f'<ds:DigestMethod Algorithm="{sha256}"/><ds:DigestValue/></ds:Reference>'
        "</ds:SignedInfo><ds:SignatureValue/>"
        f"<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{base64.b64encode(cert_der).decode()}"
        "</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
        f'<ds:Object><xades:QualifyingProperties xmlns:xades="{XADES}" Target="#xmldsig-fhc">'
        '<xades:SignedProperties Id="xades-fhc"><xades:SignedSignatureProperties>'
        f"<xades:SigningTime>{signing_time}</xades:SigningTime>"
        "<xades:SigningCertificate><xades:Cert><xades:CertDigest>"
        f'<ds:DigestMethod Algorithm="{sha256}"/><ds:DigestValue>{digest}</ds:DigestValue>'
        "</xades:CertDigest><xades:IssuerSerial>"
        f"<ds:X509IssuerName>{issuer_name}</ds:X509IssuerName>"
        f"<ds:X509SerialNumber>{serial_number}</ds:X509SerialNumber>"
        "</xades:IssuerSerial></xades:Cert></xades:SigningCertificate>"
        "</xades:SignedSignatureProperties></xades:SignedProperties>"
        "</xades:QualifyingProperties></ds:Object></ds:Signature>"
    )
    body = re.sub(rb"^<\?xml[^>]*\?>\s*", b"", known_content)
    closing = body.rindex(b"</")
    template = body[:closing] + signature.encode() + body[closing:]
    signed = xmlsec1_sign(
        template,
        private_key_pem=private_key_pem,
        node_xpath="/*/*[local-name()='Signature']",
        id_nodes=(f"{XADES}:SignedProperties",),
        other_ids=(("id", f"{ENCRYPTED}:BusinessContent"),),
    )
    start = signed.index(b"<ds:Signature")
    end = signed.index(b"</ds:Signature>") + len(b"</ds:Signature>")
    xades = base64.b64encode(
        signed[start:end].replace(b"<ds:Signature ", f'<ds:Signature xmlns:ds="{DS}" '.encode(), 1)
        if b"xmlns:ds=" not in signed[start : signed.index(b">", start)]
        else signed[start:end]
    )
    prefix = re.search(rb"<(\w+):EncryptedKnownContent", signed)
    tag = f"{prefix.group(1).decode()}:Xades" if prefix else "Xades"
    return signed[:start] + f"<{tag}>".encode() + xades + f"</{tag}>".encode() + signed[end:]
