"""`urn:be:cin:encrypted` EncryptedKnownContent: what a seal carries (wire-formats 1.7).

`Reply-to-Etk`? (the requester's ETK, so the answer can be sealed for it), `BusinessContent`
(the payload, base64, with `@id` and, from some clients, `@ContentType`/`@ContentEncoding`)
and `Xades`? (a signature over the whole, base64). Bytes stay bytes here: inflating a deflated
payload or checking the XAdES is the caller's business.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from lxml import etree

from simulator.soap.parser import XmlRejected, parse_xml

NS = "urn:be:cin:encrypted"
ROOT = "EncryptedKnownContent"
# Element order fixed by businessContent.xsd: Reply-to-Etk?, BusinessContent, Xades?.
_ORDER = ("Reply-to-Etk", "BusinessContent", "Xades")
_ATTRIBUTES = ("id", "ContentType", "ContentEncoding")
# xsd:ID is an NCName: a letter or "_" first, then letters, digits, ".", "-", "_".
_NCNAME = re.compile(r"[^\W\d][\w.\-]*\Z")
_WHITESPACE = re.compile(rb"\s+")


class ContentError(ValueError):
    """EncryptedKnownContent is malformed; `xpath` says where (also in the message)."""

    def __init__(self, xpath: str, reason: str) -> None:
        super().__init__(f"{xpath}: {reason}")
        self.xpath = xpath
        self.reason = reason


@dataclass(frozen=True)
class KnownContent:
    business_content: bytes
    reply_to_etk: bytes | None
    xades: bytes | None
    content_type: str | None = None  # BusinessContent/@ContentType, e.g. text/xml
    content_encoding: str | None = None  # BusinessContent/@ContentEncoding: none | deflate
    content_id: str | None = None  # BusinessContent/@id, e.g. _<uuid>


def _q(local: str) -> str:
    return f"{{{NS}}}{local}"


def _path(*steps: str) -> str:
    return "/" + "/".join((ROOT, *steps))


def build_known_content(content: KnownContent) -> bytes:
    """The serialized EncryptedKnownContent (UTF-8, with an XML declaration)."""
    if content.content_id is not None and not _NCNAME.match(content.content_id):
        raise ContentError(
            _path("BusinessContent", "@id"),
            f"{content.content_id!r} is not an xsd:ID (a letter or _ first, no spaces or :)",
        )
    root = etree.Element(_q(ROOT), nsmap={"enc": NS})
    if content.reply_to_etk is not None:
        etree.SubElement(root, _q("Reply-to-Etk")).text = _b64(content.reply_to_etk)
    business = etree.SubElement(root, _q("BusinessContent"))
    business.text = _b64(content.business_content)
    for name, value in zip(
        _ATTRIBUTES,
        (content.content_id, content.content_type, content.content_encoding),
        strict=True,
    ):
        if value is not None:
            business.set(name, value)
    if content.xades is not None:
        etree.SubElement(root, _q("Xades")).text = _b64(content.xades)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def parse_known_content(data: bytes) -> KnownContent:
    """Read EncryptedKnownContent from untrusted bytes, or raise `ContentError`."""
    try:
        root = parse_xml(data)
    except XmlRejected as error:
        where = "" if error.line is None else f" (line {error.line})"
        raise ContentError("/", f"{error.reason}{where}") from None
    if root.tag != _q(ROOT):
        raise ContentError(f"/{etree.QName(root).localname}", f"expected {{{NS}}}{ROOT} as root")
    if (root.text or "").strip():
        raise ContentError(_path(), "text directly inside the root element is not allowed")
    found: dict[str, etree._Element] = {}
    position = 0
    for element in root:
        if not isinstance(element.tag, str):
            continue  # comments and processing instructions carry nothing
        name = etree.QName(element)
        if name.namespace != NS or name.localname not in _ORDER:
            raise ContentError(_path(name.localname), f"unexpected element {name.text}")
        index = _ORDER.index(name.localname)
        if index < position or name.localname in found:
            raise ContentError(
                _path(name.localname),
                "out of order or repeated (expected Reply-to-Etk?, BusinessContent, Xades?)",
            )
        position = index
        found[name.localname] = element
        if (element.tail or "").strip():
            raise ContentError(_path(), f"text after {name.localname} is not allowed")
    business = found.get("BusinessContent")
    if business is None:
        raise ContentError(_path("BusinessContent"), "missing (it carries the payload)")
    for key in business.attrib:
        attribute = key if isinstance(key, str) else key.decode("utf-8")
        if attribute not in _ATTRIBUTES:
            raise ContentError(
                _path("BusinessContent", f"@{attribute}"),
                f"unknown attribute (allowed: {', '.join(_ATTRIBUTES)})",
            )
    payload = _decode(business, "BusinessContent")
    if not payload:
        raise ContentError(_path("BusinessContent"), "empty: no payload")
    return KnownContent(
        business_content=payload,
        reply_to_etk=_decode(found.get("Reply-to-Etk"), "Reply-to-Etk"),
        xades=_decode(found.get("Xades"), "Xades"),
        content_type=business.get("ContentType"),
        content_encoding=business.get("ContentEncoding"),
        content_id=business.get("id"),
    )


def _decode(element: etree._Element | None, name: str) -> bytes | None:
    if element is None:
        return None
    if len(element):
        raise ContentError(_path(name), "must hold base64 text, not child elements")
    # xs:base64Binary allows whitespace (line-wrapped encoders); nothing else off-alphabet.
    compact = _WHITESPACE.sub(b"", (element.text or "").encode("utf-8"))
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ContentError(_path(name), f"not base64: {error}") from None
