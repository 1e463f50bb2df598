"""ETK depot v1: GetEtkRequest in, GetEtkResponse out (urn:be:fgov:ehealth:etkdepot:1_0)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

PROTOCOL = "urn:be:fgov:ehealth:etkdepot:1_0:protocol"
CORE = "urn:be:fgov:ehealth:commons:1_0:core"
SUCCESS = "urn:be:fgov:ehealth:2.0:status:Success"
REQUESTER = "urn:be:fgov:ehealth:2.0:status:Requester"


@dataclass(frozen=True)
class EtkQuery:
    identifier_type: str  # CBE, SSIN, NIHII-PHYSICIAN, ...
    value: str
    application: str | None


class EtkRequestError(ValueError):
    pass


def parse_request(request: etree._Element) -> list[EtkQuery]:
    queries = []
    for identifier in request.iterfind(f"{{{PROTOCOL}}}SearchCriteria/{{{PROTOCOL}}}Identifier"):
        kind = (identifier.findtext(f"{{{PROTOCOL}}}Type") or "").strip()
        value = (identifier.findtext(f"{{{PROTOCOL}}}Value") or "").strip()
        application = identifier.findtext(f"{{{PROTOCOL}}}ApplicationID")
        if not kind or not value:
            raise EtkRequestError("SearchCriteria/Identifier needs both Type and Value")
        queries.append(EtkQuery(kind, value, application.strip() if application else None))
    if not queries:
        raise EtkRequestError("GetEtkRequest has no SearchCriteria/Identifier")
    return queries


def build_response(
    *, etk: bytes | None, message: str | None, response_id: str, now: datetime
) -> etree._Element:
    response = etree.Element(
        f"{{{PROTOCOL}}}GetEtkResponse",
        nsmap={"etk": PROTOCOL, "core": CORE},
        Id=response_id,
        IssueInstant=now.isoformat(timespec="seconds"),
    )
    status = etree.SubElement(response, f"{{{CORE}}}Status")
    etree.SubElement(status, f"{{{CORE}}}StatusCode", Value=SUCCESS if etk else REQUESTER)
    if message:
        etree.SubElement(status, f"{{{CORE}}}StatusMessage").text = message
    if etk is not None:
        etree.SubElement(response, f"{{{PROTOCOL}}}ETK").text = base64.b64encode(etk).decode()
    return response


def build_request(identifier_type: str, value: str, application: str | None) -> etree._Element:
    request = etree.Element(f"{{{PROTOCOL}}}GetEtkRequest", nsmap={"etk": PROTOCOL})
    identifier = etree.SubElement(
        etree.SubElement(request, f"{{{PROTOCOL}}}SearchCriteria"), f"{{{PROTOCOL}}}Identifier"
    )
    etree.SubElement(identifier, f"{{{PROTOCOL}}}Type").text = identifier_type
    etree.SubElement(identifier, f"{{{PROTOCOL}}}Value").text = value
    if application:
        etree.SubElement(identifier, f"{{{PROTOCOL}}}ApplicationID").text = application
    return request


def read_etk(response: etree._Element) -> bytes:
    encoded = response.findtext(f"{{{PROTOCOL}}}ETK")
    if encoded is None:
        message = response.findtext(f"{{{CORE}}}Status/{{{CORE}}}StatusMessage") or "no ETK"
        raise EtkRequestError(message)
    return base64.b64decode(encoded)
