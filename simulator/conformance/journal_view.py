"""What a journal entry holds, read for the expectations: the envelope as XML, the fault the
simulator answered, and the business content inside the request's Detail blob (decoded, and
unsealed when an `Unsealer` with the insurer's key is at hand).

Each `EntryView` parses lazily and at most once; nothing here decides pass or fail.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from lxml import etree

from simulator.codecs.blob import BlobError, decode_blob
from simulator.soap.namespaces import SOA_ERRORS, SOAP11, WSA
from simulator.soap.parser import XmlRejected, parse_xml
from simulator.store.base import JournalEntry

# Prefixes suite authors may use in XPath expressions.
NAMESPACES = {
    "soap": SOAP11,
    "wsa": WSA,
    "soa": SOA_ERRORS,
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "saml1": "urn:oasis:names:tc:SAML:1.0:assertion",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "ext": "urn:be:cin:nippin:memberdata:saml:extension",
    "kmehr": "http://www.ehealth.fgov.be/standards/kmehr/schema/v1",
    "ms": "http://www.ehealth.fgov.be/messageservices/protocol/v1",
    "mscore": "http://www.ehealth.fgov.be/messageservices/core/v1",
    "ga": "urn:be:cin:nip:async:generic",
    "attest": "urn:be:fgov:ehealth:mycarenet:attest:protocol:v3",
    "tar": "urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1",
    "mdp": "urn:be:fgov:ehealth:mycarenet:memberdata:protocol:v1",
    "mp1": "urn:be:fgov:ehealth:mediprima:protocol:v1",
    "mp2": "urn:be:fgov:ehealth:mediprima:protocol:v2",
    "uma": "urn:be:fgov:ehealth:mediprima:uma:protocol:v1",
}
# The request could not be read or was refused before the business rules: not well-formed,
# not SOAP, empty, wrong path or SOAPAction, not schema-valid, unreadable content.
TRANSPORT_FAULTS = ("SOA-03001", "SOA-03002", "SOA-03003", "SOA-03005", "SOA-03006", "SOA-03007")

# Sealed bytes -> the business content inside (EncryptedKnownContent/BusinessContent).
Unsealer = Callable[[bytes], bytes]


def check_xpath(expression: str) -> str | None:
    """None when `expression` compiles with our prefixes, else what is wrong with it."""
    try:
        etree.XPath(expression, namespaces=NAMESPACES)
    except etree.XPathSyntaxError as error:
        return str(error)
    return None


def evaluate_xpath(root: etree._Element, expression: str) -> list[str]:
    """The text of every node (element text, attribute value or string) `expression` selects."""
    found = etree.XPath(expression, namespaces=NAMESPACES)(root)
    if isinstance(found, bool):
        return ["true"] if found else []
    if isinstance(found, str | float):
        return [str(found)]
    values: list[str] = []
    for item in found if isinstance(found, list) else []:
        if isinstance(item, etree._Element):
            values.append((item.text or "").strip())
        else:
            values.append(str(item))
    return values


def pretty(xml_text: str) -> str:
    """Indented XML for reports and diffs (the text as is when it is not XML)."""
    if not xml_text.strip():
        return ""
    try:
        root = parse_xml(xml_text.encode("utf-8"))
    except XmlRejected:
        return xml_text
    etree.indent(root, space="  ")
    return etree.tostring(root, encoding="unicode")


@dataclass
class EntryView:
    entry: JournalEntry
    unsealer: Unsealer | None = None
    _problems: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return self.entry.id or 0

    def label(self) -> str:
        e = self.entry
        return f"journal #{self.id} {e.service}.{e.operation} at {e.at} ({e.outcome})"

    @cached_property
    def request(self) -> etree._Element | None:
        return self._parse(self.entry.request, "request")

    @cached_property
    def response(self) -> etree._Element | None:
        return self._parse(self.entry.response, "response")

    def problem(self, part: str) -> str:
        return self._problems.get(part, "")

    def _parse(self, raw: str, part: str) -> etree._Element | None:
        if not raw.strip():
            self._problems[part] = f"the {part} was not journaled (bodies=false?)"
            return None
        try:
            return parse_xml(raw.encode("utf-8"))
        except XmlRejected as rejected:
            self._problems[part] = f"the {part} is not XML: {rejected.reason}"
            return None

    @cached_property
    def fault_reason(self) -> str:
        """What the simulator said when it refused the request (faultstring + SOA code)."""
        root = self.response
        if root is None:
            return ""
        fault = root.find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault")
        if fault is None:
            return ""
        message = fault.findtext(f"detail/{{{SOA_ERRORS}}}BusinessError/Message") or ""
        return " ".join(p for p in (fault.findtext("faultstring") or "", message) if p).strip()

    @cached_property
    def detail_blob(self) -> bytes | None:
        """The request's Detail (or GenAsync Detail) decoded, still sealed if it was."""
        root = self.request
        if root is None:
            return None
        body = root.find(f"{{{SOAP11}}}Body")
        detail = next(
            (el for el in (body.iter() if body is not None else ()) if _local(el) == "Detail"),
            None,
        )
        if detail is None or not (detail.text or "").strip():
            self._problems["content"] = "the request has no Detail blob"
            return None
        try:
            return decode_blob(detail.text or "", detail.get("ContentEncoding", "deflate"))
        except BlobError as error:
            self._problems["content"] = f"the Detail blob cannot be decoded: {error}"
            return None

    @cached_property
    def sealed(self) -> bool:
        root = self.request
        if root is None:
            return False
        return any(_local(el) == "Detail" and el.get("ContentEncryption") for el in root.iter())

    @cached_property
    def business_content(self) -> bytes | None:
        """The business payload: the Detail decoded and, when sealed, opened."""
        blob = self.detail_blob
        if blob is None or not self.sealed:
            return blob
        if self.unsealer is None:
            self._problems["content"] = (
                "the Detail is sealed for the insurer and no insurer key was given (evaluate "
                "with --data-dir to read sealed content)"
            )
            return None
        try:
            return self.unsealer(blob)
        except Exception as error:  # any unseal failure is the request's problem, reported
            self._problems["content"] = f"the sealed Detail cannot be opened: {error}"
            return None

    @cached_property
    def content(self) -> etree._Element | None:
        raw = self.business_content
        if raw is None:
            return None
        try:
            return parse_xml(raw)
        except XmlRejected as rejected:
            self._problems["content"] = f"the business content is not XML: {rejected.reason}"
            return None

    @cached_property
    def message_name(self) -> str | None:
        """GenAsync Detail/@MessageName (HCPFAC, ECM-HCPFAC, ...)."""
        root = self.request
        if root is None:
            return None
        for el in root.iter():
            if _local(el) == "Detail" and el.get("MessageName"):
                return el.get("MessageName")
        return None

    def content_text(self) -> str:
        """The business content for reports: XML pretty-printed, flat files as text."""
        raw = self.business_content
        if raw is None:
            return ""
        if raw.lstrip().startswith(b"<"):
            return pretty(raw.decode("utf-8", errors="replace"))
        if raw.isascii():
            return raw.decode("ascii")
        return base64.b64encode(raw).decode("ascii")


def _local(element: etree._Element) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""
