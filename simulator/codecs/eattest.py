"""eAttest v3 codec: Send/CancelAttestation over commons v4, and the KMEHR 1.34 payloads.

Outer layer (wire-formats 4.2, 8.4): `SendAttestationRequest` / `CancelAttestationRequest` with
CommonInput (+ `Attribute urn:be:cin:nippin:attemptNbr`), Routing and a sealed Detail. Inner
layer: a messageservices `SendTransactionRequest` (KMEHR 1.34: `cga` + one `cgd` per service,
or `cgacancellation`) in, a `SendTransactionResponse` out (sample
`samples/eattest/eattest-v3-SendTransactionResponse-decrypted.xml`). Sealing and XAdES are the
service's business: this module reads and writes plain payloads.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Protocol

from lxml import etree

from simulator.codecs.kmehr import KMEHR, MS_CORE, MS_PROTOCOL, child, children, text_of
from simulator.codecs.mycarenet_commons import (
    V3,
    V4,
    Blob,
    CommonInput,
    Commons,
    PayloadError,
    add_blob,
    add_common_input,
    build_send_response,
    read_blob,
    read_common_input,
)
from simulator.domain.eattest import (
    AttestationOutcome,
    AttestationQuery,
    AttestedService,
    CancellationOutcome,
    CancellationQuery,
)
from simulator.domain.population import Patient
from simulator.domain.tarification import RuleError
from simulator.soap.parser import XmlRejected, parse_xml

NAMESPACE = "urn:be:fgov:ehealth:mycarenet:attest:protocol:v3"
SEND = "SendAttestation"
CANCEL = "CancelAttestation"
SEND_REQUEST_TAG = f"{{{NAMESPACE}}}SendAttestationRequest"
CANCEL_REQUEST_TAG = f"{{{NAMESPACE}}}CancelAttestationRequest"
ATTEMPT_KEY = "urn:be:cin:nippin:attemptNbr"
MESSAGE_VERSION = "3.0"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XS = "http://www.w3.org/2001/XMLSchema"
NSMAP = {None: MS_PROTOCOL, "msgws": MS_CORE, "kmehr": KMEHR}
SCHEMA_VERSION = "1.34"
KMEHR_STANDARD = ("1.35", "20210120")  # CD-STANDARD SV and value eAttest v3 clients send
# Scheme versions as the insurers send them in eAttest v3 answers (PYC sample).
_SV = {
    "CD-HCPARTY": "1.16",
    "CD-TRANSACTION-MYCARENET": "1.4",
    "CD-ITEM-MYCARENET": "1.6",
    "CD-ITEM": "1.11",
    "CD-SEX": "1.1",
}
INSURER_KIND = "orginsurance"
_FRENCH = {"L": "fr"}


@dataclass(frozen=True)
class AttestVersion:
    """One eAttest protocol version: its namespace, commons and operations (wire-formats 4.1).

    v1 and v2 carry the same KMEHR over commons v3 (no CommonInput/Attribute, no
    Detail/@MessageVersion); v1 has no cancellation.
    """

    label: str
    namespace: str
    commons: Commons
    message_version: str | None  # Detail/@MessageVersion, which only commons core v4 has
    operations: tuple[str, ...]

    def tag(self, operation: str, suffix: str = "Request") -> str:
        return f"{{{self.namespace}}}{operation}{suffix}"


ATTEST_V3 = AttestVersion("v3", NAMESPACE, V4, MESSAGE_VERSION, (SEND, CANCEL))
ATTEST_V2 = AttestVersion(
    "v2", "urn:be:fgov:ehealth:mycarenet:attest:protocol:v2", V3, None, (SEND, CANCEL)
)
ATTEST_V1 = AttestVersion(
    "v1", "urn:be:fgov:ehealth:mycarenet:attest:protocol:v1", V3, None, (SEND,)
)
VERSIONS = (ATTEST_V3, ATTEST_V2, ATTEST_V1)
_OPERATIONS = {
    version.tag(operation): (version, operation)
    for version in VERSIONS
    for operation in version.operations
}


@dataclass(frozen=True)
class AttestRequest:
    operation: str  # SEND | CANCEL
    request_id: str | None  # @Id
    common: CommonInput
    attempt: int | None  # CommonInput/Attribute[attemptNbr]/Value
    patient_ssin: str | None  # Routing/CareReceiver/Ssin
    reference_date: str | None  # Routing/ReferenceDate
    detail: Blob
    message_version: str | None  # Detail/@MessageVersion
    version: AttestVersion = ATTEST_V3


@dataclass(frozen=True)
class Transaction:
    """The decoded SendTransactionRequest: one of `send`/`cancel`, and the parsed root."""

    root: etree._Element
    send: AttestationQuery | None
    cancel: CancellationQuery | None


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


# -- the outer request ----------------------------------------------------------------------------


def parse_request(payload: etree._Element) -> AttestRequest:
    """A Send/CancelAttestationRequest of any eAttest version (v1, v2, v3)."""
    found = _OPERATIONS.get(payload.tag if isinstance(payload.tag, str) else "")
    if found is None:
        raise PayloadError(f"/{_local(payload)}: not an eAttest Send/CancelAttestationRequest")
    version, operation = found
    commons = version.commons
    where = f"/{operation}Request"
    common = read_common_input(payload, commons)
    detail_element = payload.find(commons.p("Detail"))
    routing = payload.find(commons.p("Routing"))
    return AttestRequest(
        operation=operation,
        request_id=payload.get("Id"),
        common=common,
        attempt=_attempt(payload.find(commons.p("CommonInput")), where),
        patient_ssin=text_of(child(routing, "CareReceiver", "Ssin")),
        reference_date=text_of(child(routing, "ReferenceDate")),
        detail=read_blob(detail_element, f"{where}/Detail"),
        message_version=detail_element.get("MessageVersion")
        if detail_element is not None
        else None,
        version=version,
    )


def _attempt(common: etree._Element | None, where: str) -> int | None:
    for attribute in children(common, "Attribute"):
        if attribute.get("Key") == ATTEMPT_KEY:
            value = text_of(child(attribute, "Value"))
            if value is None or not value.isdigit() or int(value) < 1:
                raise PayloadError(
                    f"{where}/CommonInput/Attribute[@Key='{ATTEMPT_KEY}']/Value: "
                    f"{value!r} is not a positive attempt number"
                )
            return int(value)
    return None


def build_response(
    request: AttestRequest,
    detail: bytes,
    *,
    content_encryption: str | None,
    response_id: str,
    now: datetime,
) -> etree._Element:
    version = request.version
    commons = version.commons
    response, blob = build_send_response(
        version.tag(request.operation, "Response"),
        {"att": version.namespace, "p": commons.protocol, "c": commons.core},
        commons,
        in_response_to=request.request_id,
        input_reference=request.common.input_reference,
        detail=detail,
        content_encryption=content_encryption,
        response_id=response_id,
        issue_instant=_instant(now),
    )
    if version.message_version is not None:
        blob.set("MessageVersion", version.message_version)
    return response


def _instant(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


# -- the KMEHR request ----------------------------------------------------------------------------


def read_transaction_request(data: bytes, request: AttestRequest) -> Transaction:
    """The SendTransactionRequest of an unsealed Detail, as a query for the rules."""
    try:
        root = parse_xml(data)
    except XmlRejected as rejected:
        raise PayloadError(
            f"Detail: the SendTransactionRequest is not XML: {rejected.reason}"
        ) from None
    if root.tag != _q(MS_PROTOCOL, "SendTransactionRequest"):
        raise PayloadError(
            f"Detail: expected {{{MS_PROTOCOL}}}SendTransactionRequest, found {root.tag}"
        )
    header = child(root, "request")
    folder = child(root, "kmehrmessage", "folder")
    if header is None or folder is None:
        raise PayloadError("/SendTransactionRequest: request and kmehrmessage/folder are required")
    author = child(header, "author", "hcparty")
    # What both queries say about who asks for whom, in the KMEHR and in the SOAP envelope.
    who: dict[str, Any] = {
        "request_id": text_of(child(header, "id")),
        "author_nihii": _coded(author, "id", "ID-HCPARTY"),
        "author_type": _coded(author, "cd", "CD-HCPARTY"),
        "patient_ssin": _coded(child(folder, "patient"), "id", "ID-PATIENT"),
        "envelope_provider_nihii": request.common.provider_nihii,
        "envelope_patient_ssin": request.patient_ssin,
    }
    typed = [
        (t, _coded(t, "cd", "CD-TRANSACTION-MYCARENET")) for t in children(folder, "transaction")
    ]
    cancel = next((t for t, kind in typed if kind == "cgacancellation"), None)
    if request.operation == CANCEL:
        return Transaction(root, None, _read_cancel(cancel, who))
    if cancel is not None:
        raise PayloadError(
            "/SendTransactionRequest/kmehrmessage/folder/transaction: a cgacancellation "
            "belongs in CancelAttestationRequest, not SendAttestationRequest"
        )
    cga = next((t for t, kind in typed if kind == "cga"), None)
    services = tuple(_service(t) for t, kind in typed if kind == "cgd")
    return Transaction(root, _read_send(cga, services, who), None)


def _read_cancel(cancel: etree._Element | None, who: dict[str, Any]) -> CancellationQuery:
    if cancel is None:
        raise PayloadError(
            "/SendTransactionRequest/kmehrmessage/folder: CancelAttestation needs a "
            "transaction cgacancellation"
        )
    item = _item(cancel, "invoicingnumber")
    return CancellationQuery(
        has_invoicing_item=item is not None,
        invoicing_number=next((text_of(c) for c in _contents(item, "text")), None),
        reason=next((text_of(c) for c in _contents(item, "cd")), None),
        **who,
    )


def _read_send(
    cga: etree._Element | None, services: tuple[AttestedService, ...], who: dict[str, Any]
) -> AttestationQuery:
    return AttestationQuery(
        transaction_date=text_of(child(cga, "date")),
        patient_paid=text_of(child(_item(cga, "patientpaid"), "cost", "decimal")),
        supplement=text_of(child(_item(cga, "supplement"), "cost", "decimal")),
        receiving_party=text_of(child(_item(cga, "paymentreceivingparty"), "content", "id")),
        services=services,
        has_cga=cga is not None,
        **who,
    )


def _coded(element: etree._Element | None, tag: str, scheme: str) -> str | None:
    for candidate in children(element, tag):
        if candidate.get("S") == scheme:
            return text_of(candidate)
    return None


def _item(transaction: etree._Element | None, kind: str) -> etree._Element | None:
    for item in children(transaction, "item"):
        if any(
            cd.get("S", "").startswith("CD-ITEM") and text_of(cd) == kind
            for cd in children(item, "cd")
        ):
            return item
    return None


def _contents(item: etree._Element | None, tag: str) -> list[etree._Element]:
    return [found for content in children(item, "content") for found in children(content, tag)]


def _service(transaction: etree._Element) -> AttestedService:
    claim = _item(transaction, "claim")
    code = next((text_of(c) for c in _contents(claim, "cd") if c.get("S") == "CD-NIHDI"), None)
    encounter = _item(transaction, "encounterdatetime")
    manager = _item(transaction, "gmdmanager")
    manager_party = next(iter(_contents(manager, "hcparty")), None)
    fee = _item(transaction, "patientpaid")
    if fee is None:
        fee = _item(transaction, "fee")
    exemption = next(
        (
            text_of(c)
            for c in _contents(claim, "cd")
            if c.get("S") == "LOCAL" and c.get("SL") == "NIHDI-CLAIM-EXEMPTION"
        ),
        None,
    )
    return AttestedService(
        code=code,
        quantity=text_of(child(claim, "quantity", "decimal")) if claim is not None else None,
        encounter_date=next((text_of(d) for d in _contents(encounter, "date")), None),
        gmd_manager=_coded(manager_party, "id", "ID-HCPARTY"),
        amount=text_of(child(fee, "cost", "decimal")),
        exemption=exemption,
    )


# -- the KMEHR answer -----------------------------------------------------------------------------


class _Writer:
    """Small lxml helpers with the scheme versions of eAttest v3."""

    @staticmethod
    def sub(parent: etree._Element, ns: str, tag: str, text: str | None = None) -> etree._Element:
        element = etree.SubElement(parent, _q(ns, tag))
        if text is not None:
            element.text = text
        return element

    @classmethod
    def coded(
        cls,
        parent: etree._Element,
        tag: str,
        scheme: str,
        value: str,
        *,
        ns: str = KMEHR,
        sl: str | None = None,
    ) -> etree._Element:
        element = cls.sub(parent, ns, tag, value)
        element.set("S", scheme)
        element.set("SV", _SV.get(scheme, "1.0"))
        if sl is not None:
            element.set("SL", sl)
        return element


_W = _Writer


def _insurer_party(parent: etree._Element, insurer: str) -> None:
    party = _W.sub(parent, KMEHR, "hcparty")
    _W.coded(party, "id", "ID-INSURANCE", insurer)
    _W.coded(party, "cd", "CD-HCPARTY", INSURER_KIND)


def build_transaction_response(
    transaction: Transaction,
    *,
    insurer: str,
    errors: Sequence[RuleError],
    patient: Patient | None,
    send: AttestationOutcome | None = None,
    cancel: CancellationOutcome | None = None,
    invoicing_number: str | None = None,
    response_number: int,
    now: datetime,
) -> bytes:
    """The SendTransactionResponse: acknowledge, errors, and the insurer's kmehrmessage."""
    root = etree.Element(
        _q(MS_PROTOCOL, "SendTransactionResponse"),
        nsmap=NSMAP,  # type: ignore[arg-type]
        messageProtocoleSchemaVersion=SCHEMA_VERSION,
    )
    day, clock = now.date().isoformat(), now.time().isoformat(timespec="seconds")
    response = _W.sub(root, MS_CORE, "response")
    _W.coded(response, "id", "ID-KMEHR", f"{insurer}.{response_number}", ns=MS_CORE)
    _insurer_party(_W.sub(response, MS_CORE, "author"), insurer)
    _W.sub(response, MS_CORE, "date", day)
    _W.sub(response, MS_CORE, "time", clock)
    response.append(_echoed_request(transaction, day, clock))
    acknowledge = _W.sub(root, MS_CORE, "acknowledge")
    _W.sub(acknowledge, MS_CORE, "iscomplete", "false" if errors else "true")
    for error in errors:
        element = _W.sub(acknowledge, MS_CORE, "error")
        _W.coded(element, "cd", "CD-ERROR", error.code)
        _W.sub(element, KMEHR, "description", error.message_fr).set("L", "fr")
        _W.sub(element, KMEHR, "url", error.path)
    if not errors and patient is not None:
        message = _W.sub(root, MS_CORE, "kmehrmessage")
        _header(message, transaction, insurer, day, clock)
        folder = _W.sub(message, KMEHR, "folder")
        _W.coded(folder, "id", "ID-KMEHR", "1")
        _patient(folder, patient)
        if send is not None and invoicing_number is not None:
            _accepted_send(folder, insurer, send, invoicing_number, day, clock, transaction)
        elif cancel is not None and cancel.attested is not None:
            cga = _transaction(folder, 1, "cgacancellation", insurer, day, clock)
            item = _kmehr_item(cga, 1, "CD-ITEM-MYCARENET", "invoicingnumber")
            _W.sub(_W.sub(item, KMEHR, "content"), KMEHR, "text", cancel.attested.number).set(
                "L", "en"
            )
            reason = _W.sub(item, KMEHR, "content")
            _W.coded(reason, "cd", "LOCAL", cancel.reason or "", sl="NIHDI-CANCELLATION-REASON")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _echoed_request(transaction: Transaction, day: str, clock: str) -> etree._Element:
    """The client's `request` block when it is schema-valid as sent, else a minimal one."""
    original = child(transaction.root, "request")
    if original is not None and original.tag == _q(MS_CORE, "request") and _dated(original):
        copy = etree.fromstring(etree.tostring(original))
        return copy
    query = transaction.send or transaction.cancel
    echo = etree.Element(_q(MS_CORE, "request"))
    _W.coded(echo, "id", "ID-KMEHR", (query.request_id if query else None) or "", ns=MS_CORE)
    party = _W.sub(_W.sub(echo, MS_CORE, "author"), KMEHR, "hcparty")
    if query is not None and query.author_nihii:
        _W.coded(party, "id", "ID-HCPARTY", query.author_nihii)
    _W.coded(party, "cd", "CD-HCPARTY", (query.author_type if query else None) or "persphysician")
    _W.sub(echo, MS_CORE, "date", day)
    _W.sub(echo, MS_CORE, "time", clock)
    return echo


def _dated(request: etree._Element) -> bool:
    # A client's broken date or missing author must not make our answer invalid.
    if request.find(f"{{{MS_CORE}}}author/{{{KMEHR}}}hcparty/{{{KMEHR}}}cd") is None:
        return False
    try:
        date.fromisoformat(request.findtext(_q(MS_CORE, "date")) or "")
        time.fromisoformat(request.findtext(_q(MS_CORE, "time")) or "")
    except ValueError:
        return False
    return request.find(_q(MS_CORE, "id")) is not None


def _header(
    message: etree._Element, transaction: Transaction, insurer: str, day: str, clock: str
) -> None:
    header = _W.sub(message, KMEHR, "header")
    _W.coded(_W.sub(header, KMEHR, "standard"), "cd", "CD-STANDARD", KMEHR_STANDARD[1]).set(
        "SV", KMEHR_STANDARD[0]
    )
    _W.coded(header, "id", "ID-KMEHR", "1")
    _W.sub(header, KMEHR, "date", day)
    _W.sub(header, KMEHR, "time", clock)
    _insurer_party(_W.sub(header, KMEHR, "sender"), insurer)
    recipient = _W.sub(header, KMEHR, "recipient")
    query = transaction.send or transaction.cancel
    party = _W.sub(recipient, KMEHR, "hcparty")
    if query is not None and query.author_nihii:
        _W.coded(party, "id", "ID-HCPARTY", query.author_nihii)
    _W.coded(party, "cd", "CD-HCPARTY", (query.author_type if query else None) or "persphysician")


def _patient(folder: etree._Element, patient: PatientIdentity) -> None:
    element = _W.sub(folder, KMEHR, "patient")
    _W.coded(element, "id", "ID-PATIENT", patient.ssin)
    _W.sub(element, KMEHR, "firstname", patient.first_name)
    _W.sub(element, KMEHR, "familyname", patient.last_name)
    _W.coded(_W.sub(element, KMEHR, "sex"), "cd", "CD-SEX", patient.sex)


def _transaction(
    folder: etree._Element, number: int, kind: str, insurer: str, day: str, clock: str
) -> etree._Element:
    transaction = _W.sub(folder, KMEHR, "transaction")
    _W.coded(transaction, "id", "ID-KMEHR", str(number))
    _W.coded(transaction, "cd", "CD-TRANSACTION-MYCARENET", kind)
    _W.sub(transaction, KMEHR, "date", day)
    _W.sub(transaction, KMEHR, "time", clock)
    _insurer_party(_W.sub(transaction, KMEHR, "author"), insurer)
    _W.sub(transaction, KMEHR, "iscomplete", "true")
    _W.sub(transaction, KMEHR, "isvalidated", "true")
    return transaction


def _kmehr_item(parent: etree._Element, number: int, scheme: str, kind: str) -> etree._Element:
    item = _W.sub(parent, KMEHR, "item")
    _W.coded(item, "id", "ID-KMEHR", str(number))
    _W.coded(item, "cd", scheme, kind)
    return item


def _accepted_send(
    folder: etree._Element,
    insurer: str,
    outcome: AttestationOutcome,
    number: str,
    day: str,
    clock: str,
    transaction: Transaction,
) -> None:
    cga = _transaction(folder, 1, "cga", insurer, day, clock)
    item = _kmehr_item(cga, 1, "CD-ITEM-MYCARENET", "invoicingnumber")
    _W.sub(_W.sub(item, KMEHR, "content"), KMEHR, "text", number).set("L", "en")
    for index, line in enumerate(outcome.lines, start=2):
        cgd = _transaction(folder, index, "cgd", insurer, day, clock)
        claim = _kmehr_item(cgd, 1, "CD-ITEM", "claim")
        _W.coded(_W.sub(claim, KMEHR, "content"), "cd", "CD-NIHDI", line.code)
        _W.sub(_W.sub(claim, KMEHR, "quantity"), KMEHR, "decimal", line.quantity)
        encounter = _kmehr_item(cgd, 2, "CD-ITEM", "encounterdatetime")
        _W.sub(_W.sub(encounter, KMEHR, "content"), KMEHR, "date", line.encounter_date.isoformat())
        fee = _kmehr_item(cgd, 3, "CD-ITEM-MYCARENET", "fee")
        cost = _W.sub(fee, KMEHR, "cost")
        _W.sub(cost, KMEHR, "decimal", f"{line.fee.quantize(Decimal('0.01'))}")
        _W.coded(_W.sub(cost, KMEHR, "unit"), "cd", "CD-CURRENCY", "EUR")


# -- client side ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Author:
    nihii: str
    ssin: str
    kind: str  # CD-HCPARTY: persphysician, persdentist, persphysiotherapist, ...
    first_name: str
    last_name: str


@dataclass(frozen=True)
class ServiceLine:
    code: str
    day: date
    amount: Decimal  # what the provider charges (the answer carries the official fee)
    quantity: int = 1
    gmd_manager: str | None = None
    # R50 Z23 in the claim (LOCAL SL=NIHDI-CLAIM-EXEMPTION, as IFHC writes it): "01" declares a
    # distinct contact, not a duplicate of the same code the same day (domain-rules 6.5) [A value]
    exemption: str | None = None


class PatientIdentity(Protocol):
    """What a request names of the patient: a population `Patient` or a client's own record
    (`simulator.client.eattest.PatientRef`)."""

    @property
    def ssin(self) -> str: ...
    @property
    def first_name(self) -> str: ...
    @property
    def last_name(self) -> str: ...
    @property
    def sex(self) -> str: ...  # "male" | "female"


def build_send_transaction(
    author: Author,
    patient: PatientIdentity,
    services: Sequence[ServiceLine],
    *,
    now: datetime,
    receiving_party: str,
    supplement: Decimal | None = None,
    transaction_date: date | None = None,
) -> bytes:
    """A KMEHR 1.34 SendTransactionRequest with a `cga` and one `cgd` per service."""
    root, folder, _, clock = _request_skeleton(author, patient, now)
    cga = _client_transaction(folder, 1, "cga", author, transaction_date or now.date(), clock)
    paid = _kmehr_item(cga, 1, "CD-ITEM-MYCARENET", "patientpaid")
    _client_cost(paid, sum((s.amount for s in services), Decimal(0)))
    number = 2
    if supplement is not None:
        _client_cost(_kmehr_item(cga, number, "CD-ITEM-MYCARENET", "supplement"), supplement)
        number += 1
    party = _kmehr_item(cga, number, "CD-ITEM-MYCARENET", "paymentreceivingparty")
    _W.coded(_W.sub(party, KMEHR, "content"), "id", "ID-CBE", receiving_party)
    for index, service in enumerate(services, start=2):
        cgd = _client_transaction(folder, index, "cgd", author, service.day, clock)
        claim = _kmehr_item(cgd, 1, "CD-ITEM", "claim")
        _W.coded(_W.sub(claim, KMEHR, "content"), "cd", "CD-NIHDI", service.code)
        _W.coded(_W.sub(claim, KMEHR, "content"), "cd", "LOCAL", "0", sl="NIHDI-CLAIM-NORM")
        if service.exemption is not None:
            content = _W.sub(claim, KMEHR, "content")
            _W.coded(content, "cd", "LOCAL", service.exemption, sl="NIHDI-CLAIM-EXEMPTION")
        _W.sub(_W.sub(claim, KMEHR, "quantity"), KMEHR, "decimal", str(service.quantity))
        encounter = _kmehr_item(cgd, 2, "CD-ITEM", "encounterdatetime")
        _W.sub(_W.sub(encounter, KMEHR, "content"), KMEHR, "date", service.day.isoformat())
        _client_cost(_kmehr_item(cgd, 3, "CD-ITEM-MYCARENET", "patientpaid"), service.amount)
        if service.gmd_manager is not None:
            manager = _kmehr_item(cgd, 4, "CD-ITEM", "gmdmanager")
            hcparty = _W.sub(_W.sub(manager, KMEHR, "content"), KMEHR, "hcparty")
            _W.coded(hcparty, "id", "ID-HCPARTY", service.gmd_manager)
            _W.coded(hcparty, "cd", "CD-HCPARTY", "persphysician")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def build_cancel_transaction(
    author: Author, patient: PatientIdentity, number: str, reason: str, *, now: datetime
) -> bytes:
    """A KMEHR 1.34 SendTransactionRequest with one `cgacancellation`."""
    root, folder, _, clock = _request_skeleton(author, patient, now)
    cancel = _client_transaction(folder, 1, "cgacancellation", author, now.date(), clock)
    item = _kmehr_item(cancel, 1, "CD-ITEM-MYCARENET", "invoicingnumber")
    _W.sub(_W.sub(item, KMEHR, "content"), KMEHR, "text", number).set("L", "en")
    content = _W.sub(item, KMEHR, "content")
    _W.coded(content, "cd", "LOCAL", reason, sl="NIHDI-CANCELLATION-REASON")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _request_skeleton(
    author: Author, patient: PatientIdentity, now: datetime
) -> tuple[etree._Element, etree._Element, str, str]:
    root = etree.Element(
        _q(MS_PROTOCOL, "SendTransactionRequest"),
        nsmap=NSMAP,  # type: ignore[arg-type]
        messageProtocoleSchemaVersion=SCHEMA_VERSION,
    )
    day, clock = now.date().isoformat(), now.time().isoformat(timespec="seconds")
    request = _W.sub(root, MS_CORE, "request")
    _W.coded(request, "id", "ID-KMEHR", f"{author.nihii}.{now:%Y%m%d%H%M%S}", ns=MS_CORE)
    _author_party(_W.sub(request, MS_CORE, "author"), author)
    _W.sub(request, MS_CORE, "date", day)
    _W.sub(request, MS_CORE, "time", clock)
    message = _W.sub(root, MS_CORE, "kmehrmessage")
    header = _W.sub(message, KMEHR, "header")
    _W.coded(_W.sub(header, KMEHR, "standard"), "cd", "CD-STANDARD", KMEHR_STANDARD[1]).set(
        "SV", KMEHR_STANDARD[0]
    )
    _W.coded(header, "id", "ID-KMEHR", f"{author.nihii}.{now:%Y%m%d%H%M%S}")
    _W.sub(header, KMEHR, "date", day)
    _W.sub(header, KMEHR, "time", clock)
    _author_party(_W.sub(header, KMEHR, "sender"), author)
    recipient = _W.sub(_W.sub(header, KMEHR, "recipient"), KMEHR, "hcparty")
    _W.coded(recipient, "cd", "CD-HCPARTY", "application")
    _W.sub(recipient, KMEHR, "name", "mycarenet")
    folder = _W.sub(message, KMEHR, "folder")
    _W.coded(folder, "id", "ID-KMEHR", "1")
    _patient(folder, patient)
    return root, folder, day, clock


def _author_party(parent: etree._Element, author: Author) -> None:
    party = _W.sub(parent, KMEHR, "hcparty")
    _W.coded(party, "id", "ID-HCPARTY", author.nihii)
    _W.coded(party, "id", "INSS", author.ssin)
    _W.coded(party, "cd", "CD-HCPARTY", author.kind)
    _W.sub(party, KMEHR, "firstname", author.first_name)
    _W.sub(party, KMEHR, "familyname", author.last_name)


def _client_transaction(
    folder: etree._Element, number: int, kind: str, author: Author, day: date, clock: str
) -> etree._Element:
    transaction = _W.sub(folder, KMEHR, "transaction")
    _W.coded(transaction, "id", "ID-KMEHR", str(number))
    _W.coded(transaction, "cd", "CD-TRANSACTION-MYCARENET", kind)
    _W.sub(transaction, KMEHR, "date", day.isoformat())
    _W.sub(transaction, KMEHR, "time", clock)
    _author_party(_W.sub(transaction, KMEHR, "author"), author)
    _W.sub(transaction, KMEHR, "iscomplete", "true")
    _W.sub(transaction, KMEHR, "isvalidated", "true")
    return transaction


def _client_cost(item: etree._Element, amount: Decimal) -> None:
    cost = _W.sub(item, KMEHR, "cost")
    _W.sub(cost, KMEHR, "decimal", f"{amount.quantize(Decimal('0.01'))}")
    _W.coded(_W.sub(cost, KMEHR, "unit"), "cd", "CD-CURRENCY", "EUR")


def build_request(
    operation: str,
    common: CommonInput,
    detail: bytes,
    *,
    attempt: int,
    patient_ssin: str,
    reference_date: date,
    content_encryption: str | None,
    request_id: str,
    now: datetime,
    version: AttestVersion = ATTEST_V3,
) -> etree._Element:
    commons = version.commons
    request = etree.Element(
        version.tag(operation),
        nsmap={
            "att": version.namespace,
            "p": commons.protocol,
            "c": commons.core,
            "xs": XS,
            "xsi": XSI,
        },
        Id=request_id,
        IssueInstant=_instant(now),
    )
    # The simulator does not check the MyCareNet package licence.
    licence = {"license_user": "mycarenet-sim", "license_password": "-"}
    element = add_common_input(request, commons, common, **licence)
    if commons is V4:  # CommonInput/Attribute exists from commons core v4 on
        attribute = etree.SubElement(element, V4.c("Attribute"), Key=ATTEMPT_KEY)
        value = etree.SubElement(attribute, V4.c("Value"))
        value.set(f"{{{XSI}}}type", "xs:int")
        value.text = str(attempt)
    routing = etree.SubElement(request, commons.p("Routing"))
    receiver = etree.SubElement(routing, commons.c("CareReceiver"))
    etree.SubElement(receiver, commons.c("Ssin")).text = patient_ssin
    etree.SubElement(routing, commons.c("ReferenceDate")).text = reference_date.isoformat()
    blob = add_blob(
        request,
        commons.p("Detail"),
        detail,
        blob_id=f"_{uuid.uuid4()}",
        content_encryption=content_encryption,
    )
    if version.message_version is not None:
        blob.set("MessageVersion", version.message_version)
    return request


def parse_response_detail(payload: etree._Element, version: AttestVersion = ATTEST_V3) -> Blob:
    operation = _local(payload).removesuffix("Response")
    if payload.tag != version.tag(operation, "Response") or operation not in version.operations:
        raise PayloadError(f"/{_local(payload)}: not an eAttest {version.label} answer")
    commons = version.commons
    detail = payload.find(f"{commons.p('Return')}/{commons.p('Detail')}")
    return read_blob(detail, f"/{operation}Response/Return/Detail")


@dataclass(frozen=True)
class ResultError:
    code: str
    url: str | None
    description: str | None


@dataclass(frozen=True)
class AttestResult:
    complete: bool
    errors: tuple[ResultError, ...]
    invoicing_number: str | None
    fees: tuple[tuple[str, Decimal], ...]  # (code, official fee) per cgd
    insurer: str | None
    cancellation_reason: str | None = None

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(error.code for error in self.errors)


def read_transaction_response(data: bytes) -> AttestResult:
    try:
        root = parse_xml(data)
    except XmlRejected as rejected:
        raise PayloadError(
            f"Detail: the SendTransactionResponse is not XML: {rejected.reason}"
        ) from None
    acknowledge = child(root, "acknowledge")
    errors = tuple(
        ResultError(
            code=text_of(child(error, "cd")) or "",
            url=text_of(child(error, "url")),
            description=text_of(child(error, "description")),
        )
        for error in children(acknowledge, "error")
    )
    folder = child(root, "kmehrmessage", "folder")
    number, reason, fees = None, None, []
    for transaction in children(folder, "transaction"):
        kind = _coded(transaction, "cd", "CD-TRANSACTION-MYCARENET")
        if kind in ("cga", "cgacancellation"):
            item = _item(transaction, "invoicingnumber")
            number = next((text_of(t) for t in _contents(item, "text")), None)
            reason = next((text_of(c) for c in _contents(item, "cd")), None)
        elif kind == "cgd":
            claim = _item(transaction, "claim")
            code = next((text_of(c) for c in _contents(claim, "cd")), None) or ""
            fee = text_of(child(_item(transaction, "fee"), "cost", "decimal")) or "0"
            fees.append((code, Decimal(fee)))
    author = child(root, "response", "author", "hcparty")
    return AttestResult(
        complete=text_of(child(acknowledge, "iscomplete")) in ("true", "1"),
        errors=errors,
        invoicing_number=number,
        fees=tuple(fees),
        insurer=_coded(author, "id", "ID-INSURANCE"),
        cancellation_reason=reason,
    )
