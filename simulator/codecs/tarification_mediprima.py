"""CAAMI tarification codec (TarificationMediPrima v1, wire-formats 7.3).

The envelope and the request are eTar's (same TarificationConsultationRequest, same commons v2
`Detail` blob), so parsing is simulator.codecs.tarification's. What differs is inside: the
transaction is `tariffmediprima` (CD-TRANSACTION-MYCARENET), the request says
messageProtocoleSchemaVersion 1.18, and each priced code answers `fee`, `reimbursement-fpssi`
(State), `reimbursement-pswc` (CPAS), `patientfee`, `financialcontract`, `pswc` (the CPAS's
BCE and names), `mediprimanumber` (the decision, its version in SV) and `umc` (urgent care).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from lxml import etree

from simulator.codecs import kmehr
from simulator.codecs import tarification as etar
from simulator.codecs.blob import BlobError, decode_blob, encode_blob, hash_value
from simulator.codecs.kmehr import KMEHR, MS_CORE, child, children, coded, text_of
from simulator.domain.cpas import CpasDecision
from simulator.domain.tarification import TarificationOutcome
from simulator.domain.tarification_mediprima import (
    TRANSACTION,
    MediprimaLine,
    MediprimaOutcome,
)
from simulator.soap.parser import XmlRejected, parse_xml

INSURER = "600"  # CAAMI/HZIV answers for MediPrima
MESSAGE_PROTOCOL_VERSION = "1.18"
AMOUNT_ITEMS = ("fee", "reimbursement-fpssi", "reimbursement-pswc", "patientfee")
REQUEST_TAG = etar.REQUEST_TAG
PayloadError = etar.PayloadError
TarificationRequest = etar.TarificationRequest
ResultError = etar.ResultError

# Server side: the request is read exactly as eTar reads it.
parse_request = etar.parse_request


# -- server side: response --------------------------------------------------------------------


def build_response(
    request: TarificationRequest,
    outcome: MediprimaOutcome,
    *,
    response_id: str,
    now: datetime,
) -> etree._Element:
    """TarificationConsultationResponse whose blob carries one tariffmediprima per code."""
    message = build_kmehr_response(request, outcome, now=now)
    content = etree.tostring(message, xml_declaration=True, encoding="UTF-8")
    response = etree.Element(etar.RESPONSE_TAG, nsmap=etar.NSMAP)
    response.set("Id", response_id)
    if request.request_id:
        response.set("InResponseTo", request.request_id)
    response.set("IssueInstant", now.isoformat(timespec="seconds"))
    returned = etree.SubElement(response, f"{{{etar.PROTOCOL}}}Return")
    common = etree.SubElement(returned, f"{{{etar.PROTOCOL}}}CommonOutput")
    reference = response_id.lstrip("_")
    if request.input_reference is not None:
        kmehr.sub(common, etar.CORE, "InputReference", request.input_reference)
    kmehr.sub(common, etar.CORE, "NIPReference", f"NIP-{reference}")
    kmehr.sub(common, etar.CORE, "OutputReference", f"OUT-{reference}")
    detail = kmehr.sub(returned, etar.PROTOCOL, "Detail", encode_blob(content, "none"))
    for name, value in (
        ("ContentType", "text/xml"),
        ("ContentEncoding", "none"),
        ("HashValue", hash_value(content)),
        ("Id", etar.BLOB_ID),
    ):
        detail.set(name, value)
    return response


def build_kmehr_response(
    request: TarificationRequest, outcome: MediprimaOutcome, *, now: datetime
) -> etree._Element:
    """eTar's RetrieveTransactionResponse (response, acknowledge, patient), then one
    tariffmediprima transaction per priced code appended to the folder."""
    accepted = outcome.accepted and outcome.decision is not None
    base = TarificationOutcome(
        errors=outcome.errors, patient=outcome.patient if accepted else None, insurer=INSURER
    )
    message = etar.build_kmehr_response(request, base, now=now)
    folder = child(message, "kmehrmessage", "folder")
    if folder is None or outcome.decision is None or not accepted:
        return message
    day = _encounter_day(request, now)
    for number, line in enumerate(outcome.lines, start=1):
        folder.append(_transaction(number, line, outcome.decision, day, now))
    return message


def _encounter_day(request: TarificationRequest, now: datetime) -> date:
    try:
        return date.fromisoformat((request.query.encounter_date or "")[:10])
    except ValueError:
        return now.date()


def _transaction(
    number: int, line: MediprimaLine, decision: CpasDecision, day: date, now: datetime
) -> etree._Element:
    transaction = etree.Element(f"{{{KMEHR}}}transaction", nsmap=kmehr.NSMAP)
    kmehr.add_id(transaction, "ID-KMEHR", str(number))
    kmehr.add_cd(transaction, "CD-TRANSACTION-MYCARENET", TRANSACTION)
    kmehr.sub(transaction, KMEHR, "date", now.date().isoformat())
    kmehr.sub(transaction, KMEHR, "time", now.time().isoformat(timespec="seconds"))
    author = kmehr.sub(transaction, KMEHR, "author")
    kmehr.add_hcparty(author, ids=[("ID-INSURANCE", INSURER)], kind=etar.INSURER_KIND)
    kmehr.sub(transaction, KMEHR, "iscomplete", "true")
    kmehr.sub(transaction, KMEHR, "isvalidated", "true")
    items = _Items(transaction)
    encounter = items.add("CD-ITEM", "encounterdatetime")
    kmehr.sub(kmehr.sub(encounter, KMEHR, "content"), KMEHR, "date", day.isoformat())
    claim = items.add("CD-ITEM", "claim")
    kmehr.add_cd(kmehr.sub(claim, KMEHR, "content"), "CD-NIHDI", line.code)
    amounts = (line.fee, line.reimbursement_fpssi, line.reimbursement_pswc, line.patient_fee)
    for kind, amount in zip(AMOUNT_ITEMS, amounts, strict=True):
        kmehr.add_cost(items.add("CD-ITEM-MYCARENET", kind), amount)
    if line.financial_contract:
        contract = items.add("CD-ITEM-MYCARENET", "financialcontract")
        kmehr.add_id(kmehr.sub(contract, KMEHR, "content"), "ID-KMEHR", line.financial_contract)
    pswc = items.add("CD-ITEM-MYCARENET", "pswc")
    kmehr.add_id(kmehr.sub(pswc, KMEHR, "content"), "ID-CBE", decision.cpas.cbe)
    for language, name in (("fr", decision.cpas.name_fr), ("nl", decision.cpas.name_nl)):
        kmehr.sub(kmehr.sub(pswc, KMEHR, "content"), KMEHR, "text", name).set("L", language)
    card = items.add("CD-ITEM-MYCARENET", "mediprimanumber")
    card_id = kmehr.sub(kmehr.sub(card, KMEHR, "content"), KMEHR, "id", decision.carmed_number)
    # A local id: S=LOCAL, SL names the scheme, SV carries the decision's version (IFHC).
    for name, value in (("S", "LOCAL"), ("SV", str(decision.version)), ("SL", "ID-MEDIPRIMA")):
        card_id.set(name, value)
    urgent = items.add("CD-ITEM-MYCARENET", "umc")
    flag = "true" if decision.medical_urgency else "false"
    kmehr.sub(kmehr.sub(urgent, KMEHR, "content"), KMEHR, "boolean", flag)
    return transaction


class _Items:
    """Numbers the items of one transaction as they are added."""

    def __init__(self, transaction: etree._Element) -> None:
        self.transaction = transaction
        self.count = 0

    def add(self, scheme: str, kind: str) -> etree._Element:
        self.count += 1
        return kmehr.add_item(self.transaction, self.count, scheme, kind, ns=KMEHR)


# -- client side ------------------------------------------------------------------------------


def build_request(
    *,
    provider_nihii: str,
    provider_ssin: str,
    provider_type: str,
    patient_ssin: str,
    encounter_date: date,
    codes: list[str],
    input_reference: str,
    issue_instant: datetime,
) -> etree._Element:
    """eTar's request with the inner transaction turned into a tariffmediprima one."""
    request = etar.build_request(
        provider_nihii=provider_nihii,
        provider_ssin=provider_ssin,
        provider_type=provider_type,
        patient_ssin=patient_ssin,
        encounter_date=encounter_date,
        codes=codes,
        gmd_manager=None,
        input_reference=input_reference,
        issue_instant=issue_instant,
    )
    detail = request.find(f"{{{etar.PROTOCOL}}}Detail")
    assert detail is not None  # etar.build_request always writes one
    message = parse_xml(decode_blob(detail.text or "", "none"))
    message.set("messageProtocoleSchemaVersion", MESSAGE_PROTOCOL_VERSION)
    kind = message.find(f"{{{MS_CORE}}}select/{{{MS_CORE}}}transaction/{{{MS_CORE}}}cd")
    assert kind is not None
    kind.text = TRANSACTION
    content = etree.tostring(message, xml_declaration=True, encoding="UTF-8")
    detail.text = encode_blob(content, "none")
    detail.set("HashValue", hash_value(content))
    return request


@dataclass(frozen=True)
class MediprimaResultLine:
    code: str
    fee: Decimal
    reimbursement_fpssi: Decimal
    reimbursement_pswc: Decimal
    patient_fee: Decimal
    financial_contract: str
    pswc_cbe: str
    mediprima_number: str
    mediprima_version: str
    urgent_medical_care: bool


@dataclass(frozen=True)
class MediprimaResult:
    complete: bool
    errors: tuple[ResultError, ...]
    lines: tuple[MediprimaResultLine, ...]
    patient_ssin: str | None
    raw: etree._Element  # the decoded RetrieveTransactionResponse


def parse_response(payload: etree._Element) -> MediprimaResult:
    if payload.tag != etar.RESPONSE_TAG:
        raise PayloadError(f"/{etree.QName(payload).localname}: expected {etar.RESPONSE_TAG}")
    detail = payload.find(f"{{{etar.PROTOCOL}}}Return/{{{etar.PROTOCOL}}}Detail")
    where = "/TarificationConsultationResponse/Return/Detail"
    if detail is None:
        raise PayloadError(f"{where}: missing")
    try:
        message = parse_xml(decode_blob(detail.text or "", detail.get("ContentEncoding", "none")))
    except (BlobError, XmlRejected) as error:
        raise PayloadError(f"{where}: {error}") from None
    acknowledge = child(message, "acknowledge")
    errors = tuple(
        ResultError(
            code=text_of(child(error, "cd")) or "",
            url=text_of(child(error, "url")),
            description=text_of(child(error, "description")),
        )
        for error in children(acknowledge, "error")
    )
    folder = child(message, "kmehrmessage", "folder")
    return MediprimaResult(
        complete=text_of(child(acknowledge, "iscomplete")) in ("true", "1"),
        errors=errors,
        lines=tuple(_read_line(t) for t in children(folder, "transaction")),
        patient_ssin=coded(child(folder, "patient"), "id", "ID-PATIENT", "INSS"),
        raw=message,
    )


def _read_line(transaction: etree._Element) -> MediprimaResultLine:
    values: dict[str, str] = {}
    amounts: dict[str, Decimal] = {}
    urgent = False
    for item in children(transaction, "item"):
        kind = kmehr.item_kind(item) or ""
        content = child(item, "content")
        if kind == "claim":
            values["code"] = coded(content, "cd", "CD-NIHDI") or ""
        elif kind in AMOUNT_ITEMS:
            amounts[kind] = _amount(item, kind)
        elif kind == "financialcontract":
            values[kind] = text_of(child(content, "id")) or ""
        elif kind == "pswc":
            values[kind] = coded(content, "id", "ID-CBE") or ""
        elif kind == "mediprimanumber":
            number = child(content, "id")
            values[kind] = text_of(number) or ""
            values["version"] = number.get("SV", "") if number is not None else ""
        elif kind == "umc":
            urgent = text_of(child(content, "boolean")) == "true"
    missing = [kind for kind in AMOUNT_ITEMS if kind not in amounts]
    if missing:
        raise PayloadError(f"folder/transaction: no {', '.join(missing)}")
    return MediprimaResultLine(
        code=values.get("code", ""),
        fee=amounts["fee"],
        reimbursement_fpssi=amounts["reimbursement-fpssi"],
        reimbursement_pswc=amounts["reimbursement-pswc"],
        patient_fee=amounts["patientfee"],
        financial_contract=values.get("financialcontract", ""),
        pswc_cbe=values.get("pswc", ""),
        mediprima_number=values.get("mediprimanumber", ""),
        mediprima_version=values.get("version", ""),
        urgent_medical_care=urgent,
    )


def _amount(item: etree._Element, kind: str) -> Decimal:
    value = text_of(child(item, "cost", "decimal"))
    try:
        return Decimal(value or "")
    except InvalidOperation:
        raise PayloadError(f"item[{kind}]/cost/decimal: {value!r} is not an amount") from None
