"""SOAP 1.1 faults with the eHealth SOA error detail (urn:be:fgov:ehealth:errors:soa:v1).

The ESB answers protocol-level problems with a SOAP fault whose detail is a BusinessError or
SystemError carrying a `SOA-xxxxx` code and FR/NL texts (wire-formats 1.11). We add an English
`Message` that says exactly what was wrong and where, since that is what a vendor needs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from lxml import etree

from simulator.soap.namespaces import SOA_ERRORS, SOAP11, XML

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"

# SOA texts as published in the eHealth catalogue (GenInsErrors / ConsultTarifErrors, FR and NL).
SOA_TEXTS: dict[str, tuple[str, str]] = {
    "SOA-00001": (
        "Erreur indéfinie, Contactez le helpdesk",
        "Niet nader bepaalde fout, Contacteer de helpdesk",
    ),
    "SOA-01001": (
        "Utilisateur non reconnu, Vérifiez si vous êtes bien authentifié",
        "Gebruiker niet correct aangemeld, Controleer of u correct bent aangemeld",
    ),
    "SOA-01002": (
        "L'utilisateur n'a pas accès, Vérifiez votre rôle au niveau de la gestion des utilisateurs",
        "Gebruiker heeft geen toegang, Controleer uw rol in het gebruikersbeheer",
    ),
    "SOA-02001": (
        "Service non disponible, Contactez le helpdesk",
        "Dienst niet beschikbaar, Contacteer de helpdesk",
    ),
    "SOA-02002": (
        "Service temporairement non disponible, Ré-essayez sinon contactez le helpdesk",
        "Dienst tijdelijk niet beschikbaar, Probeer opnieuw",
    ),
    "SOA-03001": (
        "Contenu du message malformé, Contrôlez les données",
        "Inhoud van het bericht niet conform, Controleer de verzonden gegevens",
    ),
    "SOA-03002": (
        "Message non conforme au format (SOAP), Contactez le helpdesk",
        "SOAP formaat van het bericht niet correct, Contacteer de helpdesk",
    ),
    "SOA-03003": (
        "Corps du message manquant (mais conforme SOAP), Contactez le helpdesk",
        "Inhoud van het bericht is leeg (maar SOAP conform), Contacteer de helpdesk",
    ),
    "SOA-03004": (
        "Message non conforme (vs standard WS-I), Contactez le helpdesk",
        "Bericht is niet conform (tov WS-I standaard), Contacteer de helpdesk",
    ),
    "SOA-03005": (
        "Message non conforme (vs référence WSDL), Contactez le helpdesk",
        "Bericht is niet conform (tov WSDL referentie), Contacteer de helpdesk",
    ),
    "SOA-03006": (
        "Message non conforme (vs référence XSD), Contactez le helpdesk",
        "Bericht is niet conform (tov XSD referentie), Contacteer de helpdesk",
    ),
    "SOA-03007": (
        "Echec de la validation du contenu du message: format de la donnée et cohérence "
        "des données entre elles",
        "Validatie van de inhoud van het bericht mislukt: "
        "formaat van het gegeven en coherentie met andere gegevens",
    ),
}


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
    french, dutch = SOA_TEXTS.get(fault.code, SOA_TEXTS["SOA-00001"])
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
