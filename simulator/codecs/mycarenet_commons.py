"""MyCareNet commons, eHealth flavour (wire-formats 1.4): CommonInput, CommonOutput and Blob.

The v2 (eTar), v3 (MemberData, eAttest v3) and later versions share their element names and
differ only in namespaces, so every function takes the `Commons` version it works on.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass

from lxml import etree

from simulator.codecs.blob import BlobError, decode_blob, encode_blob, hash_value
from simulator.soap.text import text_value

MAX_BLOB_BYTES = 20 * 1024 * 1024
# What our client accepts in the insurer's answers (GenAsync get), inflated. Answers outgrow
# what may be posted: a 920098 or 920900 echoes every record of the 920000 (350 characters)
# in 800 (the record and its error block), so the largest file a client may post
# (MAX_BLOB_BYTES, ~15,000 invoices) is answered with ~48 MB, some 3,160 bytes an invoice. No
# MyCareNet document caps an answer; 64 MiB holds the largest answer any accepted post can
# cause, with room. (Deflated, such an answer is ~3 MB of base64 in the get.)
MAX_ANSWER_BYTES = 64 * 1024 * 1024


class PayloadError(ValueError):
    """The SOAP payload is structurally broken; the message says what and where (XPath)."""


@dataclass(frozen=True)
class Commons:
    core: str
    protocol: str

    def c(self, tag: str) -> str:
        return f"{{{self.core}}}{tag}"

    def p(self, tag: str) -> str:
        return f"{{{self.protocol}}}{tag}"


V2 = Commons(
    "urn:be:fgov:ehealth:mycarenet:commons:core:v2",
    "urn:be:fgov:ehealth:mycarenet:commons:protocol:v2",
)
V3 = Commons(
    "urn:be:fgov:ehealth:mycarenet:commons:core:v3",
    "urn:be:fgov:ehealth:mycarenet:commons:protocol:v3",
)
# eAttest v3. Core v4 adds CommonInput/Reference*, Attribute* (attemptNbr) and Blob@Reference,
# @Issuer, @MessageVersion; the codec of the service reads and writes those itself.
V4 = Commons(
    "urn:be:fgov:ehealth:mycarenet:commons:core:v4",
    "urn:be:fgov:ehealth:mycarenet:commons:protocol:v4",
)


@dataclass(frozen=True)
class CommonInput:
    is_test: bool
    input_reference: str | None
    package_name: str | None
    provider_quality: str | None  # Origin/CareProvider/Nihii/Quality: doctor, dentist, ...
    provider_nihii: str | None  # Origin/CareProvider/Nihii/Value
    provider_ssin: str | None  # Origin/CareProvider/PhysicalPerson/Ssin


@dataclass(frozen=True)
class Blob:
    content: bytes  # decoded: base64 undone, inflated when ContentEncoding=deflate
    content_type: str
    content_encoding: str
    content_encryption: str | None
    id: str | None


def read_common_input(request: etree._Element, version: Commons) -> CommonInput:
    common = request.find(version.p("CommonInput"))
    if common is None:
        raise PayloadError(f"/{_local(request)}: CommonInput is missing")
    origin = common.find(version.c("Origin"))
    provider = origin.find(version.c("CareProvider")) if origin is not None else None
    nihii = provider.find(version.c("Nihii")) if provider is not None else None
    person = provider.find(version.c("PhysicalPerson")) if provider is not None else None
    return CommonInput(
        is_test=_text(common.find(f"{version.c('Request')}/{version.c('IsTest')}")) == "true",
        input_reference=_text(common.find(version.c("InputReference"))),
        package_name=_text(
            origin.find(f"{version.c('Package')}/{version.c('Name')}")
            if origin is not None
            else None
        ),
        provider_quality=_text(nihii.find(version.c("Quality")) if nihii is not None else None),
        provider_nihii=_text(nihii.find(version.c("Value")) if nihii is not None else None),
        provider_ssin=_text(person.find(version.c("Ssin")) if person is not None else None),
    )


def read_blob(element: etree._Element | None, where: str) -> Blob:
    """Decode a BlobType element; a HashValue, when sent, must match the decoded content."""
    if element is None:
        raise PayloadError(f"{where}: the element is missing")
    encoding = element.get("ContentEncoding", "deflate")  # the schema's default
    try:
        content = decode_blob(element.text or "", encoding, max_size=MAX_BLOB_BYTES)
    except BlobError as error:
        raise PayloadError(f"{where}: {error}") from None
    sent_hash = element.get("HashValue")
    if sent_hash is not None and not _same_hash(sent_hash, content):
        raise PayloadError(f"{where}/@HashValue: does not match the SHA-256 of the content")
    return Blob(
        content=content,
        content_type=element.get("ContentType", ""),
        content_encoding=encoding,
        content_encryption=element.get("ContentEncryption"),
        id=element.get("Id"),
    )


def add_common_input(
    parent: etree._Element,
    version: Commons,
    common: CommonInput,
    *,
    license_user: str,
    license_password: str,
) -> etree._Element:
    element = etree.SubElement(parent, version.p("CommonInput"))
    request = etree.SubElement(element, version.c("Request"))
    etree.SubElement(request, version.c("IsTest")).text = "true" if common.is_test else "false"
    origin = etree.SubElement(element, version.c("Origin"))
    package = etree.SubElement(origin, version.c("Package"))
    etree.SubElement(package, version.c("Name")).text = common.package_name or "mycarenet-sim"
    licence = etree.SubElement(package, version.c("License"))
    etree.SubElement(licence, version.c("Username")).text = license_user
    etree.SubElement(licence, version.c("Password")).text = license_password
    provider = etree.SubElement(origin, version.c("CareProvider"))
    nihii = etree.SubElement(provider, version.c("Nihii"))
    etree.SubElement(nihii, version.c("Quality")).text = common.provider_quality or "doctor"
    etree.SubElement(nihii, version.c("Value")).text = common.provider_nihii or ""
    if common.provider_ssin:
        person = etree.SubElement(provider, version.c("PhysicalPerson"))
        etree.SubElement(person, version.c("Ssin")).text = common.provider_ssin
    if common.input_reference:
        etree.SubElement(element, version.c("InputReference")).text = common.input_reference
    return element


def add_common_output(
    parent: etree._Element,
    version: Commons,
    *,
    input_reference: str | None,
    nip_reference: str,
    output_reference: str,
) -> etree._Element:
    element = etree.SubElement(parent, version.p("CommonOutput"))
    if input_reference:
        etree.SubElement(element, version.c("InputReference")).text = input_reference
    etree.SubElement(element, version.c("NIPReference")).text = nip_reference
    etree.SubElement(element, version.c("OutputReference")).text = output_reference
    return element


def add_blob(
    parent: etree._Element,
    tag: str,
    content: bytes,
    *,
    blob_id: str,
    content_encoding: str = "none",
    content_encryption: str | None = None,
    content_type: str = "text/xml",
) -> etree._Element:
    element = etree.SubElement(parent, tag)
    element.set("ContentType", content_type)
    element.set("ContentEncoding", content_encoding)
    if content_encryption:
        element.set("ContentEncryption", content_encryption)
    element.set("HashValue", hash_value(content))
    element.set("Id", blob_id)
    element.text = encode_blob(content, content_encoding)
    return element


def build_send_response(
    tag: str,
    nsmap: dict[str, str],
    version: Commons,
    *,
    in_response_to: str | None,
    input_reference: str | None,
    detail: bytes,
    content_encryption: str | None,
    response_id: str,
    issue_instant: str,
) -> tuple[etree._Element, etree._Element]:
    """A SendResponseType answer (Return: CommonOutput, Detail); returns it and its Detail."""
    response = etree.Element(tag, nsmap=nsmap, Id=response_id, IssueInstant=issue_instant)
    if in_response_to:
        response.set("InResponseTo", in_response_to)
    returned = etree.SubElement(response, version.p("Return"))
    reference = response_id.lstrip("_")
    add_common_output(
        returned,
        version,
        input_reference=input_reference,
        nip_reference=f"NIP-{reference}",
        output_reference=f"OUT-{reference}",
    )
    blob = add_blob(
        returned,
        version.p("Detail"),
        detail,
        blob_id=f"_{uuid.uuid4()}",
        content_encryption=content_encryption,
    )
    return response, blob


def _same_hash(sent: str, content: bytes) -> bool:
    try:
        return base64.b64decode(sent, validate=True) == base64.b64decode(hash_value(content))
    except (binascii.Error, ValueError):
        return False


def _text(element: etree._Element | None) -> str | None:
    # Comment-proof: `<Value>123<!---->45</Value>` is "12345", as signed and as Java reads it.
    text = text_value(element)
    return text.strip() if text else None


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname
