"""MediPrima consultation codec (ConsultCarmedIntervention v1 and v2, wire-formats 7.1 and 8.6).

Plain SOAP, no blob and no sealing. The schemas are elementFormDefault="unqualified": only the
root is in the protocol namespace, its children have no namespace, except `core:Status` and the
global `MedicalCardRegistryStatus` of the MediPrima core namespace. Server side:
`parse_request`, `build_response`; client side: `build_request`, `parse_response`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from lxml import etree

from simulator.codecs.mycarenet_commons import PayloadError
from simulator.domain.cpas import CareKind, Cover, CpasDecision
from simulator.domain.mediprima import CarmedResult, ConsultAnswer, ConsultQuery, RegistryMessage
from simulator.domain.population import Patient
from simulator.soap.namespaces import XML

VERSIONS = (1, 2)
COMMONS_CORE = "urn:be:fgov:ehealth:commons:core:v2"
# PeriodType requires an EndDate: an open-ended decision or cover is sent with this one [A].
OPEN_END = date(9999, 12, 31)
LANG = f"{{{XML}}}lang"
# MedicalCover children in schema order, with the element that lists who may use the cover.
_COVERS: tuple[tuple[CareKind, str, str, str], ...] = (
    (CareKind.DOCTOR, "Doctor", "HealthCareProviderList", "NihiiNumber"),
    (CareKind.HOSPITALIZATION, "Hospitalization", "HospitalList", "NihiiNumber"),
    (
        CareKind.AMBULATORY_HOSPITALIZATION,
        "AmbulatoryHospitalization",
        "HospitalList",
        "NihiiNumber",
    ),
    (CareKind.MEDICAL_TRANSPORTATION, "MedicalTransportation", "CompanyList", "CbeNumber"),
    (CareKind.MISCELLANEOUS, "Miscellaneous", "", ""),
    (CareKind.PARAMEDIC, "Paramedic", "ProviderList", "NihiiNumber"),
    (CareKind.PHARMACEUTICAL_DRUG, "PharmaceuticalDrug", "PharmacyList", "NihiiNumber"),
    (CareKind.PROSTHESIS, "Prosthesis", "CompanyList", "CbeNumber"),
)
_JUSTIFICATION = {
    "L": ("Séjour légal", "Wettig verblijf"),
    "I": ("Séjour illégal : aide médicale urgente", "Onwettig verblijf: dringende medische hulp"),
}


def protocol(version: int) -> str:
    return f"urn:be:fgov:ehealth:mediprima:protocol:v{version}"


def core(version: int) -> str:
    return f"urn:be:fgov:ehealth:mediprima:core:v{version}"


def request_tag(version: int) -> str:
    return f"{{{protocol(version)}}}ConsultCarmedInterventionRequest"


def response_tag(version: int) -> str:
    return f"{{{protocol(version)}}}ConsultCarmedInterventionResponse"


@dataclass(frozen=True)
class ConsultRequest:
    version: int
    request_id: str | None
    ssin: str
    start: date
    end: date
    by_period: bool  # Period sent (else ReferenceDate): echoed the same way

    def query(self, provider_nihii: str | None) -> ConsultQuery:
        return ConsultQuery(self.ssin, self.start, self.end, provider_nihii)


# -- server side ------------------------------------------------------------------------------


def parse_request(payload: etree._Element) -> ConsultRequest:
    """Read the selection criteria; a structural problem raises PayloadError (with its path)."""
    version = next((v for v in VERSIONS if payload.tag == request_tag(v)), None)
    if version is None:
        raise PayloadError(
            f"/{etree.QName(payload).localname}: expected ConsultCarmedInterventionRequest "
            "of urn:be:fgov:ehealth:mediprima:protocol:v1 or v2"
        )
    where = "/ConsultCarmedInterventionRequest/SelectionCriteria/BySsin"
    by_ssin = payload.find("SelectionCriteria/BySsin")
    if by_ssin is None:
        raise PayloadError(f"{where}: missing (children are unqualified, no namespace)")
    ssin = (by_ssin.findtext("Ssin") or "").strip()
    if not ssin:
        raise PayloadError(f"{where}/Ssin: missing or empty")
    reference = by_ssin.findtext("ReferenceDate")
    if reference is not None:
        day = _date(reference, f"{where}/ReferenceDate")
        return ConsultRequest(version, payload.get("Id"), ssin, day, day, by_period=False)
    period = by_ssin.find("Period")
    if period is None:
        raise PayloadError(f"{where}: expected Period or ReferenceDate")
    start = _date(period.findtext("StartDate"), f"{where}/Period/StartDate")
    end = _date(period.findtext("EndDate"), f"{where}/Period/EndDate")
    return ConsultRequest(version, payload.get("Id"), ssin, start, end, by_period=True)


def _date(text: str | None, where: str) -> date:
    try:
        return date.fromisoformat((text or "").strip()[:10])
    except ValueError:
        raise PayloadError(f"{where}: {text!r} is not a date (yyyy-mm-dd)") from None


def build_response(
    request: ConsultRequest,
    answer: ConsultAnswer,
    *,
    agreements: Mapping[str, str],
    response_id: str,
    now: datetime,
) -> etree._Element:
    """ConsultCarmedInterventionResponse; `agreements` maps a carmed number to the agreement
    number given to the caller."""
    version = request.version
    root = etree.Element(
        response_tag(version), nsmap={"mp": protocol(version), "core": COMMONS_CORE}
    )
    root.set("Id", response_id)
    if request.request_id:
        root.set("InResponseTo", request.request_id)
    root.set("IssueInstant", now.isoformat(timespec="seconds"))
    _write_status(root, version, answer.status, answer.messages)
    _write_criteria(etree.SubElement(root, "SelectionCriteria"), request)
    if answer.results and answer.patient is not None:
        result = etree.SubElement(root, "Result")
        for carmed in answer.results:
            _write_carmed(result, version, carmed, answer.patient, agreements)
    return root


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def _write_status(
    root: etree._Element, version: int, value: str, messages: tuple[RegistryMessage, ...]
) -> None:
    status = etree.SubElement(root, f"{{{COMMONS_CORE}}}Status")
    etree.SubElement(status, f"{{{COMMONS_CORE}}}StatusCode").set("Value", value)
    if not messages:
        return
    etree.SubElement(status, f"{{{COMMONS_CORE}}}StatusMessage").text = messages[0].fr
    detail = etree.SubElement(status, f"{{{COMMONS_CORE}}}StatusDetail")
    registry = etree.SubElement(
        detail, f"{{{core(version)}}}MedicalCardRegistryStatus", nsmap={"mpc": core(version)}
    )
    for message in messages:
        entry = _sub(registry, "MedicalCardRegistryMessage")
        entry.set("Severity", message.severity.value)
        _sub(entry, "ReasonCode", message.code)
        _sub(entry, "Source", "MediPrima")
        _names(entry, "Communication", message.fr, message.nl)


def _names(parent: etree._Element, tag: str, fr: str, nl: str) -> None:
    for language, text in (("fr", fr), ("nl", nl)):
        _sub(parent, tag, text).set(LANG, language)


def _write_criteria(criteria: etree._Element, request: ConsultRequest) -> None:
    by_ssin = _sub(criteria, "BySsin")
    _sub(by_ssin, "Ssin", request.ssin)
    if request.by_period:
        _period(by_ssin, "Period", request.start, request.end)
    else:
        _sub(by_ssin, "ReferenceDate", request.start.isoformat())


def _period(parent: etree._Element, tag: str, start: date, end: date | None) -> None:
    period = _sub(parent, tag)
    _sub(period, "StartDate", start.isoformat())
    _sub(period, "EndDate", (end or OPEN_END).isoformat())


def _write_carmed(
    result: etree._Element,
    version: int,
    carmed: CarmedResult,
    patient: Patient,
    agreements: Mapping[str, str],
) -> None:
    decision = carmed.decision
    element = _sub(result, "Carmed")
    identifier = _sub(element, "CarmedIdentifier")
    _sub(identifier, "CarmedNumber", decision.carmed_number)
    _sub(identifier, "VersionNumber", str(decision.version))
    beneficiary = _sub(identifier, "Beneficiary")
    _sub(beneficiary, "Ssin", patient.ssin)
    _sub(beneficiary, "LastName", patient.last_name)
    _sub(beneficiary, "FirstName", patient.first_name)
    _sub(beneficiary, "Gender", patient.sex)
    _sub(beneficiary, "BirthDate", patient.birth_date.isoformat())
    if patient.death_date is not None:
        _sub(beneficiary, "DeathDate", patient.death_date.isoformat())
    _period(identifier, "ValidityPeriod", decision.start, decision.end)
    pswc = _sub(identifier, "Pswc")
    _sub(pswc, "CbeNumber", decision.cpas.cbe)
    _sub(pswc, "MunicipalityIns", decision.cpas.ins_code)
    _names(pswc, "Name", decision.cpas.name_fr, decision.cpas.name_nl)
    content = _sub(element, "CarmedContent")
    _write_covers(_sub(content, "MedicalCover"), decision)
    _write_refund(_sub(content, "RefundPodmiSppis"), decision)
    agreement = agreements.get(decision.carmed_number)
    if carmed.agreement and agreement:
        _sub(element, "AgreementNumber", agreement)
    if version >= 2 and carmed.uma_attestation:
        _sub(element, "UrgentMedicalAidAttestationNumber", carmed.uma_attestation)


def _write_covers(medical_cover: etree._Element, decision: CpasDecision) -> None:
    for kind, tag, list_tag, item_tag in _COVERS:
        cover = decision.cover(kind)
        if cover is not None:
            _write_cover(_sub(medical_cover, tag), cover, list_tag, item_tag)


def _write_cover(element: etree._Element, cover: Cover, list_tag: str, item_tag: str) -> None:
    _period(element, "ValidityPeriod", cover.start, cover.end)
    support = _sub(element, "PswcSupport")
    _sub(support, "ZivAmiPart", cover.ziv_ami_part.value)
    _sub(support, "PatientPart", cover.patient_part.value)
    _sub(support, "Supplement", cover.supplement.value)
    if cover.patient_part_max is not None:  # xs:int: whole euros
        _sub(element, "AmountPatientPartMax", str(int(cover.patient_part_max)))
    if list_tag and cover.providers:
        listing = _sub(element, list_tag)
        for provider in cover.providers:
            _sub(listing, item_tag, provider)


def _write_refund(refund: etree._Element, decision: CpasDecision) -> None:
    _sub(refund, "RefundCode", str(decision.state_refund))
    _sub(refund, "AffiliedMutualityInd", "false")  # MediPrima patients are not insured
    _sub(refund, "BeneficiaryStatus", decision.beneficiary_status)
    fr, nl = _JUSTIFICATION.get(decision.beneficiary_status, _JUSTIFICATION["L"])
    _names(refund, "Justification", fr, nl)
    parts = _sub(refund, "PodmiSppisPart")
    share = f"{decision.state_refund}.00"
    for tag in ("HospitalizationPart", "AmbulatoryCarePart", "OtherPart"):
        part = _sub(parts, tag)
        _sub(part, "ZivAmiPart", share)
        _sub(part, "PatientPart", share)
    _sub(refund, "MedicalUrgencyInd", "true" if decision.medical_urgency else "false")


# -- client side ------------------------------------------------------------------------------


def build_request(
    ssin: str,
    *,
    version: int,
    request_id: str,
    now: datetime,
    reference_date: date | None = None,
    period: tuple[date, date] | None = None,
) -> etree._Element:
    """A ConsultCarmedInterventionRequest for one date or one period (exactly one is given)."""
    if (reference_date is None) == (period is None):
        raise ValueError("give either reference_date or period")
    root = etree.Element(request_tag(version), nsmap={"mp": protocol(version)})
    root.set("Id", request_id)
    root.set("IssueInstant", now.isoformat(timespec="seconds"))
    by_ssin = _sub(_sub(root, "SelectionCriteria"), "BySsin")
    _sub(by_ssin, "Ssin", ssin)
    if period is not None:
        _period(by_ssin, "Period", *period)
    elif reference_date is not None:
        _sub(by_ssin, "ReferenceDate", reference_date.isoformat())
    return root


@dataclass(frozen=True)
class CarmedInfo:
    carmed_number: str
    version: int
    ssin: str
    start: date
    end: date
    cpas_cbe: str
    covers: tuple[str, ...]  # MedicalCover children present, e.g. ("Doctor", "Hospitalization")
    doctor_support: tuple[str, str, str] | None  # (ZivAmiPart, PatientPart, Supplement)
    doctors: tuple[str, ...]  # Doctor/HealthCareProviderList
    refund_code: int
    beneficiary_status: str
    medical_urgency: bool
    agreement_number: str | None
    uma_attestation_number: str | None


@dataclass(frozen=True)
class ConsultResult:
    status: str
    reason_codes: tuple[str, ...]  # MedicalCardRegistryMessage/ReasonCode, in order
    messages_fr: tuple[str, ...]
    carmeds: tuple[CarmedInfo, ...]


def parse_response(payload: etree._Element) -> ConsultResult:
    version = next((v for v in VERSIONS if payload.tag == response_tag(v)), None)
    if version is None:
        raise PayloadError(f"/{etree.QName(payload).localname}: expected a consultation response")
    status = payload.find(f"{{{COMMONS_CORE}}}Status")
    code = status.find(f"{{{COMMONS_CORE}}}StatusCode") if status is not None else None
    messages = payload.findall(
        f".//{{{core(version)}}}MedicalCardRegistryStatus/MedicalCardRegistryMessage"
    )
    return ConsultResult(
        status=code.get("Value", "") if code is not None else "",
        reason_codes=tuple(m.findtext("ReasonCode") or "" for m in messages),
        messages_fr=tuple(
            c.text or ""
            for m in messages
            for c in m.findall("Communication")
            if c.get(LANG) == "fr"
        ),
        carmeds=tuple(_read_carmed(c) for c in payload.iterfind("Result/Carmed")),
    )


def _read_carmed(carmed: etree._Element) -> CarmedInfo:
    identifier = carmed.find("CarmedIdentifier")
    if identifier is None:
        raise PayloadError("Result/Carmed/CarmedIdentifier: missing")
    doctor = carmed.find("CarmedContent/MedicalCover/Doctor")
    support = doctor.find("PswcSupport") if doctor is not None else None
    covers = carmed.find("CarmedContent/MedicalCover")
    refund = carmed.find("CarmedContent/RefundPodmiSppis")
    return CarmedInfo(
        carmed_number=identifier.findtext("CarmedNumber") or "",
        version=int(identifier.findtext("VersionNumber") or "0"),
        ssin=identifier.findtext("Beneficiary/Ssin") or "",
        start=_date(identifier.findtext("ValidityPeriod/StartDate"), "ValidityPeriod/StartDate"),
        end=_date(identifier.findtext("ValidityPeriod/EndDate"), "ValidityPeriod/EndDate"),
        cpas_cbe=identifier.findtext("Pswc/CbeNumber") or "",
        covers=tuple(etree.QName(c).localname for c in covers) if covers is not None else (),
        doctor_support=(
            (
                support.findtext("ZivAmiPart") or "",
                support.findtext("PatientPart") or "",
                support.findtext("Supplement") or "",
            )
            if support is not None
            else None
        ),
        doctors=tuple(
            n.text or "" for n in carmed.iterfind(".//Doctor/HealthCareProviderList/NihiiNumber")
        ),
        refund_code=int(refund.findtext("RefundCode") or "0") if refund is not None else 0,
        beneficiary_status=refund.findtext("BeneficiaryStatus") or "" if refund is not None else "",
        medical_urgency=refund is not None and refund.findtext("MedicalUrgencyInd") == "true",
        agreement_number=carmed.findtext("AgreementNumber"),
        uma_attestation_number=carmed.findtext("UrgentMedicalAidAttestationNumber"),
    )
