"""SOAP 1.1 faults with the eHealth SOA error detail (urn:be:fgov:ehealth:errors:soa:v1).

The ESB answers protocol-level problems with a SOAP fault whose detail is a BusinessError or
SystemError carrying a `SOA-xxxxx` code and FR/NL texts (wire-formats 1.11). We add an English
`Message` that says exactly what was wrong and where, since that is what a vendor needs.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field

from lxml import etree

from simulator.domain.catalogue import ErrorCatalogue
from simulator.soap.namespaces import SOA_ERRORS, SOAP11, XML

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"

# The ESB's generic catalogue (GenIns) holds the FR/NL texts of every SOA-xxxxx code.
_SOA_CATALOGUE = "genins"
_UNDEFINED = "SOA-00001"


# What each ESB code means, in English (our reading of the catalogue's FR/NL texts): the
# `xml:lang="en"` Message of a fault whose cause is not more precisely known (a forced one).
SOA_MEANINGS = {
    "SOA-00001": "undefined error; contact the helpdesk",
    "SOA-01001": "user not recognised: check that you are authenticated",
    "SOA-01002": "the user has no access: check your role",
    "SOA-02001": "service not available; contact the helpdesk",
    "SOA-02002": "service temporarily not available; try again, else contact the helpdesk",
    "SOA-03001": "malformed message content: check the data",
    "SOA-03002": "message not in the SOAP format",
    "SOA-03003": "message body missing (though SOAP conform)",
    "SOA-03004": "message not conform to the WS-I standard",
    "SOA-03005": "message not conform to the WSDL",
    "SOA-03006": "message not conform to the XSD",
    "SOA-03007": "message content failed validation: data format and consistency",
}


@functools.cache
def soa_texts(code: str) -> tuple[str, str]:
    """French and Dutch texts of a SOA code; the undefined-error texts for an unknown code."""
    catalogue = ErrorCatalogue.load(_SOA_CATALOGUE)
    try:
        entry = catalogue.entry(code)
    except KeyError:
        entry = catalogue.entry(_UNDEFINED)
    return entry.fr, entry.nl


@dataclass
class SoapFault(Exception):
    """A fault to send back. Raised anywhere in the pipeline, rendered once by the server.

    `faultcode` is a local name in the SOAP envelope namespace (Client/Server) unless
    `wsse_fault` is set, in which case the WS-Security fault QName is used instead.
    """

    code: str  # SOA-xxxxx
    reason: str  # English explanation: what was wrong and where
    faultcode: str = "Client"
    http_status: int = 500
    wsse_fault: str | None = None
    retry: bool = False
    error_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # (French, Dutch) Messages when the code is not an ESB one (a business code carried in a
    # fault); by default the catalogue's texts of the SOA code.
    texts: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        super().__init__(f"{self.code}: {self.reason}")

    @property
    def business(self) -> bool:
        # Consumer-side problems (authentication, malformed input) are BusinessErrors; platform
        # trouble (undefined, unavailable) is a SystemError. The split is our reading of the ESB.
        return self.code.startswith(("SOA-01", "SOA-03"))


def fault_envelope(fault: SoapFault) -> etree._Element:
    nsmap = {"soap": SOAP11, "soa": SOA_ERRORS}
    if fault.wsse_fault:
        nsmap["wsse"] = WSSE
    envelope = etree.Element(f"{{{SOAP11}}}Envelope", nsmap=nsmap)
    body = etree.SubElement(envelope, f"{{{SOAP11}}}Body")
    element = etree.SubElement(body, f"{{{SOAP11}}}Fault")
    code = f"wsse:{fault.wsse_fault}" if fault.wsse_fault else f"soap:{fault.faultcode}"
    etree.SubElement(element, "faultcode").text = code
    etree.SubElement(element, "faultstring").text = f"{fault.code}: {fault.reason}"
    detail = etree.SubElement(element, "detail")
    kind = "BusinessError" if fault.business else "SystemError"
    error = etree.SubElement(detail, f"{{{SOA_ERRORS}}}{kind}", Id=fault.error_id)
    origin = "Consumer" if fault.faultcode == "Client" else "Provider"
    etree.SubElement(error, "Origin").text = origin
    etree.SubElement(error, "Code").text = fault.code
    french, dutch = fault.texts or soa_texts(fault.code)
    for lang, text in (("fr", french), ("nl", dutch), ("en", fault.reason)):
        message = etree.SubElement(error, "Message")
        message.set(f"{{{XML}}}lang", lang)
        message.text = text
    if fault.retry:
        etree.SubElement(error, "Retry").text = "true"
    etree.SubElement(error, f"{{{SOA_ERRORS}}}Environment").text = "Simulation"
    return envelope


# Shorthands for the faults the pipeline raises, so codes stay consistent everywhere.
def malformed(reason: str, *, http_status: int = 500) -> SoapFault:
    return SoapFault("SOA-03001", reason, http_status=http_status)


def not_soap(reason: str) -> SoapFault:
    return SoapFault("SOA-03002", reason)


def empty_body(reason: str = "the SOAP Body has no element") -> SoapFault:
    return SoapFault("SOA-03003", reason)


def not_wsdl_conform(reason: str) -> SoapFault:
    return SoapFault("SOA-03005", reason)


def not_xsd_conform(reason: str) -> SoapFault:
    return SoapFault("SOA-03006", reason)


def unauthenticated(reason: str, wsse_fault: str) -> SoapFault:
    return SoapFault("SOA-01001", reason, wsse_fault=wsse_fault)


def internal(reason: str) -> SoapFault:
    return SoapFault("SOA-00001", reason, faultcode="Server")
