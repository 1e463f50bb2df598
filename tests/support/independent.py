"""The independent judges: xmlsec1 for XML signatures, openssl for CMS and PKCS#12."""

from __future__ import annotations

import subprocess
import tempfile
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
) -> bytes:
    """Fill the ds:Signature template at `node_xpath` with `xmlsec1 --sign`; returns the document."""
    with tempfile.TemporaryDirectory() as work:
        xml = Path(work) / "template.xml"
        key = Path(work) / "key.pem"
        out = Path(work) / "signed.xml"
        xml.write_bytes(template)
        key.write_bytes(private_key_pem)
        command = ["xmlsec1", "--sign", "--privkey-pem", str(key), "--output", str(out)]
        for node in id_nodes:
            command += ["--id-attr:Id", node]
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
