"""MediPrima UMA codec: send, search and delete urgent-medical-aid attestations (wire-formats 7.2).

elementFormDefault="unqualified": the children of the protocol roots have no namespace, except
the request's `Author` (commons protocol v2, qualified) and what is inside it (`HcParty`, `Id`,
`FirstName`, `Name` of commons core v2). Errors go in `core:StatusDetail` as the UMA core's
global `RegistryStatus/ErrorDetail{Origin, Code, Message+}`. The response element names keep
the schema's spelling: `Attestion` (send) and `AttestionNumber` (delete).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from lxml import etree

from simulator.codecs.mycarenet_commons import PayloadError
from simulator.domain.mediprima import RegistryMessage
from simulator.domain.uma import ORIGIN, Party, SendUma, UmaAttestation
from simulator.soap.namespaces import XML
from simulator.soap.text import find_text, text_value

PROTOCOL = "urn:be:fgov:ehealth:mediprima:uma:protocol:v1"
CORE = "urn:be:fgov:ehealth:mediprima:uma:core:v1"
COMMONS_PROTOCOL = "urn:be:fgov:ehealth:commons:protocol:v2"
COMMONS_CORE = "urn:be:fgov:ehealth:commons:core:v2"
NSMAP = {"uma": PROTOCOL, "core": COMMONS_CORE, "protocol": COMMONS_PROTOCOL}
NIHII_TYPE = "urn:be:fgov:ehealth:1.0:physician:nihii-number"
SSIN_TYPE = "urn:be:fgov:person:ssin"
LANG = f"{{{XML}}}lang"


def tag(name: str) -> str:
    return f"{{{PROTOCOL}}}{name}"


SEND_REQUEST = tag("SendUrgentMedicalAidAttestationRequest")
SEARCH_REQUEST = tag("SearchUrgentMedicalAidAttestationRequest")
DELETE_REQUEST = tag("DeleteUrgentMedicalAidAttestationRequest")


@dataclass(frozen=True)
class SearchUma:
    beneficiary_ssin: str
    number: str | None
    start: date | None
    end: date | None
    medical_cover: str | None


@dataclass(frozen=True)
class DeleteUma:
    author: tuple[Party, ...]
    beneficiary_ssin: str
    number: str


# -- reading ------------------------------------------------------------------------------


def _expect(payload: etree._Element, expected: str) -> str:
    if payload.tag != expected:
        raise PayloadError(f"/{etree.QName(payload).localname}: expected {expected}")
    return f"/{etree.QName(payload).localname}"


def _required(parent: etree._Element, name: str, where: str) -> str:
    value = (find_text(parent, name) or "").strip()
    if not value:
        raise PayloadError(f"{where}/{name}: missing or empty (children are unqualified)")
    return value


def _date(text: str | None, where: str) -> date:
    try:
        return date.fromisoformat((text or "").strip()[:10])
    except ValueError:
        raise PayloadError(f"{where}: {text!r} is not a date (yyyy-mm-dd)") from None


def _optional_date(text: str | None, where: str) -> date | None:
    return None if text is None or not text.strip() else _date(text, where)


def _read_author(author: etree._Element | None, where: str) -> tuple[Party, ...]:
    if author is None:
        raise PayloadError(f"{where}: missing")
    parties = []
    for party in author.iterfind(f"{{{COMMONS_CORE}}}HcParty"):
        # Comment-proof reads: the author's NIHII decides who may delete an attestation.
        ids = tuple(
            (i.get("Type", ""), (text_value(i) or "").strip())
            for i in party.iterfind(f"{{{COMMONS_CORE}}}Id")
        )
        parties.append(
            Party(
                ids,
                find_text(party, f"{{{COMMONS_CORE}}}Name") or "",
                find_text(party, f"{{{COMMONS_CORE}}}FirstName"),
            )
        )
    if not parties:
        raise PayloadError(f"{where}/HcParty: missing")
    return tuple(parties)


def parse_send(payload: etree._Element) -> tuple[str | None, SendUma]:
    where = _expect(payload, SEND_REQUEST)
    author = _read_author(payload.find(f"{{{COMMONS_PROTOCOL}}}Author"), f"{where}/Author")
    period = payload.find("ValidityPeriod")
    if period is None:
        raise PayloadError(f"{where}/ValidityPeriod: missing")
    send = SendUma(
        author=author,
        beneficiary_ssin=_required(payload, "BeneficiarySsin", where),
        start=_date(period.findtext("StartDate"), f"{where}/ValidityPeriod/StartDate"),
        end=_optional_date(period.findtext("EndDate"), f"{where}/ValidityPeriod/EndDate"),
        medical_cover=payload.findtext("MedicalCover") or "",
    )
    return payload.get("Id"), send


def parse_search(payload: etree._Element) -> tuple[str | None, SearchUma]:
    where = _expect(payload, SEARCH_REQUEST) + "/Criteria"
    criteria = payload.find("Criteria")
    if criteria is None:
        raise PayloadError(f"{where}: missing")
    period = criteria.find("Period")
    number = find_text(criteria, "AttestationNumber")
    if number is None and period is None:
        raise PayloadError(f"{where}: expected AttestationNumber or Period")
    search = SearchUma(
        beneficiary_ssin=_required(criteria, "BeneficiarySsin", where),
        number=number.strip() if number is not None else None,
        start=_date(period.findtext("StartDate"), f"{where}/Period/StartDate")
        if period is not None
        else None,
        end=_optional_date(period.findtext("EndDate"), f"{where}/Period/EndDate")
        if period is not None
        else None,
        medical_cover=criteria.findtext("MedicalCover"),
    )
    return payload.get("Id"), search


def parse_delete(payload: etree._Element) -> tuple[str | None, DeleteUma]:
    where = _expect(payload, DELETE_REQUEST)
    delete = DeleteUma(
        author=_read_author(payload.find(f"{{{COMMONS_PROTOCOL}}}Author"), f"{where}/Author"),
        beneficiary_ssin=_required(payload, "BeneficiarySsin", where),
        number=_required(payload, "AttestationNumber", where),
    )
    return payload.get("Id"), delete


# -- writing ------------------------------------------------------------------------------


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, name)
    if text is not None:
        element.text = text
    return element


def _response(
    name: str,
    in_response_to: str | None,
    status: str,
    error: RegistryMessage | None,
    response_id: str,
    now: datetime,
) -> etree._Element:
    root = etree.Element(tag(name), nsmap=NSMAP)
    root.set("Id", response_id)
    if in_response_to:
        root.set("InResponseTo", in_response_to)
    root.set("IssueInstant", now.isoformat(timespec="seconds"))
    status_element = etree.SubElement(root, f"{{{COMMONS_CORE}}}Status")
    etree.SubElement(status_element, f"{{{COMMONS_CORE}}}StatusCode").set("Value", status)
    if error is not None:
        etree.SubElement(status_element, f"{{{COMMONS_CORE}}}StatusMessage").text = error.fr
        detail = etree.SubElement(status_element, f"{{{COMMONS_CORE}}}StatusDetail")
        registry = etree.SubElement(detail, f"{{{CORE}}}RegistryStatus", nsmap={"umac": CORE})
        entry = _sub(registry, "ErrorDetail")
        _sub(entry, "Origin", ORIGIN)
        _sub(entry, "Code", error.code)
        for language, text in (("fr", error.fr), ("nl", error.nl)):
            _sub(entry, "Message", text).set(LANG, language)
    return root


def _write_author(parent: etree._Element, tag_name: str, author: Sequence[Party]) -> None:
    element = etree.SubElement(parent, tag_name)
    for party in author:
        hc_party = etree.SubElement(element, f"{{{COMMONS_CORE}}}HcParty")
        for kind, value in party.ids:
            identifier = etree.SubElement(hc_party, f"{{{COMMONS_CORE}}}Id", Type=kind)
            identifier.text = value
        if party.first_name:
            etree.SubElement(hc_party, f"{{{COMMONS_CORE}}}FirstName").text = party.first_name
        etree.SubElement(hc_party, f"{{{COMMONS_CORE}}}Name").text = party.name


def _period(parent: etree._Element, start: date, end: date | None) -> None:
    period = _sub(parent, "Period" if parent.tag == "Criteria" else "ValidityPeriod")
    _sub(period, "StartDate", start.isoformat())
    if end is not None:
        _sub(period, "EndDate", end.isoformat())


def _write_attestation(parent: etree._Element, name: str, attestation: UmaAttestation) -> None:
    element = _sub(parent, name)
    _write_author(element, "Author", attestation.author)
    _sub(element, "BeneficiarySsin", attestation.beneficiary_ssin)
    _period(element, attestation.start, attestation.end)
    _sub(element, "MedicalCover", attestation.medical_cover)
    _sub(element, "AttestationNumber", attestation.number)


def build_send_response(
    in_response_to: str | None,
    status: str,
    *,
    attestation: UmaAttestation | None,
    error: RegistryMessage | None,
    response_id: str,
    now: datetime,
) -> etree._Element:
    root = _response(
        "SendUrgentMedicalAidAttestationResponse", in_response_to, status, error, response_id, now
    )
    if attestation is not None:
        _write_attestation(root, "Attestion", attestation)
    return root


def build_search_response(
    in_response_to: str | None,
    status: str,
    *,
    attestations: Sequence[UmaAttestation],
    error: RegistryMessage | None,
    response_id: str,
    now: datetime,
) -> etree._Element:
    root = _response(
        "SearchUrgentMedicalAidAttestationResponse", in_response_to, status, error, response_id, now
    )
    for attestation in attestations:
        _write_attestation(root, "Attestation", attestation)
    return root


def build_delete_response(
    in_response_to: str | None,
    status: str,
    *,
    number: str | None,
    error: RegistryMessage | None,
    response_id: str,
    now: datetime,
) -> etree._Element:
    root = _response(
        "DeleteUrgentMedicalAidAttestationResponse", in_response_to, status, error, response_id, now
    )
    if number is not None:
        _sub(root, "AttestionNumber", number)
    return root


# -- client side --------------------------------------------------------------------------


def author_of(nihii: str, ssin: str | None, name: str, first_name: str | None) -> tuple[Party, ...]:
    """The Author block a doctor sends: its NIHII (and SSIN) and names."""
    ids = ((NIHII_TYPE, nihii),) + (((SSIN_TYPE, ssin),) if ssin else ())
    return (Party(ids, name, first_name),)


def _request(name: str, request_id: str, now: datetime) -> etree._Element:
    root = etree.Element(tag(name), nsmap=NSMAP)
    root.set("Id", request_id)
    root.set("IssueInstant", now.isoformat(timespec="seconds"))
    return root


def build_send_request(send: SendUma, *, request_id: str, now: datetime) -> etree._Element:
    root = _request("SendUrgentMedicalAidAttestationRequest", request_id, now)
    _write_author(root, f"{{{COMMONS_PROTOCOL}}}Author", send.author)
    _sub(root, "BeneficiarySsin", send.beneficiary_ssin)
    _period(root, send.start, send.end)
    _sub(root, "MedicalCover", send.medical_cover)
    return root


def build_search_request(search: SearchUma, *, request_id: str, now: datetime) -> etree._Element:
    root = _request("SearchUrgentMedicalAidAttestationRequest", request_id, now)
    criteria = _sub(root, "Criteria")
    _sub(criteria, "BeneficiarySsin", search.beneficiary_ssin)
    if search.number is not None:
        _sub(criteria, "AttestationNumber", search.number)
    else:
        if search.start is None:
            raise ValueError("a search needs an attestation number or a period start")
        _period(criteria, search.start, search.end)
        if search.medical_cover is not None:
            _sub(criteria, "MedicalCover", search.medical_cover)
    return root


def build_delete_request(delete: DeleteUma, *, request_id: str, now: datetime) -> etree._Element:
    root = _request("DeleteUrgentMedicalAidAttestationRequest", request_id, now)
    _write_author(root, f"{{{COMMONS_PROTOCOL}}}Author", delete.author)
    _sub(root, "BeneficiarySsin", delete.beneficiary_ssin)
    _sub(root, "AttestationNumber", delete.number)
    return root


@dataclass(frozen=True)
class UmaResult:
    status: str
    error_codes: tuple[str, ...]
    attestations: tuple[UmaAttestation, ...]  # the sent one, or the ones found
    deleted_number: str | None


def parse_response(payload: etree._Element) -> UmaResult:
    """Any of the three responses: status, error codes, attestations, deleted number."""
    if etree.QName(payload).namespace != PROTOCOL:
        raise PayloadError(f"/{etree.QName(payload).localname}: not a MediPrima UMA response")
    code = payload.find(f"{{{COMMONS_CORE}}}Status/{{{COMMONS_CORE}}}StatusCode")
    errors = payload.iterfind(f".//{{{CORE}}}RegistryStatus/ErrorDetail/Code")
    found = [*payload.iterfind("Attestion"), *payload.iterfind("Attestation")]
    return UmaResult(
        status=code.get("Value", "") if code is not None else "",
        error_codes=tuple(e.text or "" for e in errors),
        attestations=tuple(_read_attestation(a) for a in found),
        deleted_number=payload.findtext("AttestionNumber"),
    )


def _read_attestation(element: etree._Element) -> UmaAttestation:
    author = element.find("Author")
    return UmaAttestation(
        number=element.findtext("AttestationNumber") or "",
        author=_read_author(author, "Attestation/Author"),
        beneficiary_ssin=element.findtext("BeneficiarySsin") or "",
        start=_date(element.findtext("ValidityPeriod/StartDate"), "ValidityPeriod/StartDate"),
        end=_optional_date(element.findtext("ValidityPeriod/EndDate"), "ValidityPeriod/EndDate"),
        medical_cover=element.findtext("MedicalCover") or "",
        created=date.min,  # not on the wire
    )
