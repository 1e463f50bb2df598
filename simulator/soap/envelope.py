"""SOAP 1.1 envelope: read the parts of an incoming message, build outgoing ones."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree

from simulator.soap import faults
from simulator.soap.namespaces import SOAP11

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"


@dataclass(frozen=True)
class Envelope:
    root: etree._Element
    header: etree._Element | None
    body: etree._Element
    payload: etree._Element  # the first (and only) element child of the Body

    def header_blocks(self, namespace: str, local_name: str) -> list[etree._Element]:
        if self.header is None:
            return []
        return self.header.findall(f"{{{namespace}}}{local_name}")

    def header_text(self, namespace: str, local_name: str) -> str | None:
        blocks = self.header_blocks(namespace, local_name)
        if not blocks or blocks[0].text is None:
            return None
        return blocks[0].text.strip()


def read_envelope(root: etree._Element) -> Envelope:
    """Check the SOAP 1.1 structure and return its parts, or raise the ESB's fault."""
    if root.tag == f"{{{SOAP12}}}Envelope":
        raise faults.not_soap("SOAP 1.2 envelope received; these services speak SOAP 1.1")
    if root.tag != f"{{{SOAP11}}}Envelope":
        raise faults.not_soap(f"root element is {_qname(root)}, expected soap:Envelope")
    children = [child for child in root if isinstance(child.tag, str)]
    header: etree._Element | None = None
    body: etree._Element | None = None
    for child in children:
        if child.tag == f"{{{SOAP11}}}Header" and header is None and body is None:
            header = child
        elif child.tag == f"{{{SOAP11}}}Body" and body is None:
            body = child
        else:
            raise faults.not_soap(
                f"unexpected {_qname(child)} at line {child.sourceline} in soap:Envelope"
            )
    if body is None:
        raise faults.not_soap("soap:Envelope has no soap:Body")
    payload = [child for child in body if isinstance(child.tag, str)]
    if not payload:
        raise faults.empty_body()
    if len(payload) > 1:
        raise faults.not_wsdl_conform(
            f"soap:Body carries {len(payload)} elements; document/literal allows exactly one"
        )
    return Envelope(root=root, header=header, body=body, payload=payload[0])


def new_envelope(
    payload: etree._Element, header_blocks: Iterable[etree._Element] = (), prefix: str = "soap"
) -> etree._Element:
    """A fresh envelope around `payload` (moved, not copied); `prefix` names the SOAP
    namespace as the sending stack does (SAAJ `SOAP-ENV`, WCF `s`, ...)."""
    envelope = etree.Element(f"{{{SOAP11}}}Envelope", nsmap={prefix: SOAP11})
    header = etree.SubElement(envelope, f"{{{SOAP11}}}Header")
    for block in header_blocks:
        header.append(block)
    # The Body declares wsu up front: signing gives it a wsu:Id in place, where lxml could not
    # add the declaration later without rebuilding the Body.
    body = etree.SubElement(envelope, f"{{{SOAP11}}}Body", nsmap={"wsu": WSU})
    body.append(payload)
    return envelope


def serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _qname(element: etree._Element) -> str:
    qname = etree.QName(element)
    return f"{{{qname.namespace}}}{qname.localname}" if qname.namespace else qname.localname
