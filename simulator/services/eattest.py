"""eAttest v3 (`/MyCareNet/eAttest/v3`): SendAttestation and CancelAttestation.

The same operations are published in the v2 and v1 message shapes at `/MyCareNet/eAttest/v2`
and `/v1` (v1: SendAttestation only), decided by the same rules over the same records.

The Detail is sealed for the insurer and holds an EncryptedKnownContent whose `Xades` signs
the KMEHR (wire-formats 1.7, 1.8): we unseal, verify that XAdES, let the domain decide, store
accepted attestations in `sim.records`, and answer with a KMEHR signed the same way and sealed
for the requester's Reply-to-Etk.

Every accepted attestation's services go into the insurer's ledger (`sim.ledger`), which eFact
and MediPrima fill too: a duplicate (190 / 502255) is judged against services attested or
billed by any channel, and `Ledger.admit` judges again as it records, atomically per patient,
so that two simultaneous requests count a consultation once. A cancellation removes them.

Records: `eattest` (invoicing number -> the attestation), `eattest-cancellation` (number ->
reason; inserted once: cancelled once),
`eattest-reference` (`author:InputReference` -> number: a retry with attemptNbr > 1 gets the
answer of the attempt that got through, not a duplicate refusal; wire-formats 4.2).

The KMEHR is not checked against the official bundle even when one is loaded: its
messageservices schema imports KMEHR 1.19, which refuses the 1.34 messages eAttest v3 clients
send (wire-formats 4.2); the codec and the rules report what is missing instead.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from lxml import etree

from simulator.codecs import eattest as codec
from simulator.codecs.mycarenet_commons import PayloadError
from simulator.domain.eattest import (
    AttestationOutcome,
    AttestationQuery,
    Attested,
    CancellationOutcome,
    FeeLine,
    already_cancelled,
    attested_services,
    decide_attestation,
    decide_cancellation,
    duplicate_outcome,
    invoicing_number,
    is_valid_invoicing_number,
    refused_by_ledger,
)
from simulator.domain.ledger_rules import LedgerService
from simulator.runtime import Simulator
from simulator.server import overlay
from simulator.server.exchange import Exchange
from simulator.services.authority import check_care_provider
from simulator.services.registry import Operation
from simulator.services.sealed_content import OpenedDetail, close_detail, open_detail
from simulator.soap import faults
from simulator.soap.envelope import new_envelope
from simulator.store.ledger import LedgerBusy

PATH = "/MyCareNet/eAttest/v3"
SEND_ACTION = f"{codec.NAMESPACE}:SendAttestation"
CANCEL_ACTION = f"{codec.NAMESPACE}:CancelAttestation"
# v2 and v1: the same rules and records in the older message shape (commons v3). The
# connector sets no SOAPAction for them (wire-formats 1.2); the v2 ones are inferred.
LEGACY_PATHS = {codec.ATTEST_V2: "/MyCareNet/eAttest/v2", codec.ATTEST_V1: "/MyCareNet/eAttest/v1"}
ATTESTATIONS = "eattest"
CANCELLATIONS = "eattest-cancellation"
REFERENCES = "eattest-reference"
NO_INSURER = "000"  # answers about nobody's patient still need an ID-INSURANCE


async def send_attestation(sim: Simulator, exchange: Exchange) -> etree._Element:
    request, transaction, opened = _read(sim, exchange)
    query = transaction.send
    if query is None:  # read_transaction_request refuses a cancellation here
        raise faults.SoapFault("SOA-03007", "SendAttestation needs a cga transaction")
    exchange.provider_nihii = query.author_nihii or request.common.provider_nihii
    exchange.patient_ssin = query.patient_ssin or request.patient_ssin
    exchange.codes = tuple(service.code for service in query.services if service.code)
    today = sim.clock.today()
    forced = overlay.forced_rule_error(sim, exchange)
    replayed = _replay(sim, request, query) if forced is None else None
    if forced is not None:
        number, outcome = None, AttestationOutcome(errors=(forced,))
    elif replayed is not None:
        number, outcome = replayed
    else:
        outcome = decide_attestation(query, sim.population, today, _history(sim, query))
        number = None
        if outcome.accepted:
            number, outcome = _store(sim, request, query, outcome)
    if outcome.errors:
        exchange.business_code = outcome.errors[0].code
    insurer = outcome.insurer or NO_INSURER
    now = sim.clock.now()
    kmehr = codec.build_transaction_response(
        transaction,
        insurer=insurer,
        errors=outcome.errors,
        patient=outcome.patient,
        send=outcome,
        invoicing_number=number,
        response_number=sim.store.next_sequence(f"eattest-response:{insurer}"),
        now=now,
    )
    return _answer(sim, request, kmehr, opened, now)


async def cancel_attestation(sim: Simulator, exchange: Exchange) -> etree._Element:
    request, transaction, opened = _read(sim, exchange)
    query = transaction.cancel
    if query is None:
        raise faults.SoapFault("SOA-03007", "CancelAttestation needs a cgacancellation transaction")
    exchange.provider_nihii = query.author_nihii or request.common.provider_nihii
    exchange.patient_ssin = query.patient_ssin or request.patient_ssin
    today = sim.clock.today()
    number = (query.invoicing_number or "").strip()
    attested = _attested(sim, number) if is_valid_invoicing_number(number) else None
    forced = overlay.forced_rule_error(sim, exchange)
    if forced is not None:
        outcome = CancellationOutcome(errors=(forced,))
    else:
        outcome = decide_cancellation(query, sim.population, today, attested)
    if outcome.accepted and outcome.attested is not None:
        outcome = _cancel(sim, outcome.attested, outcome, today)
    if outcome.errors:
        exchange.business_code = outcome.errors[0].code
    insurer = number[:3] if attested is not None else NO_INSURER
    patient = sim.population.find(attested.patient_ssin) if attested is not None else None
    now = sim.clock.now()
    kmehr = codec.build_transaction_response(
        transaction,
        insurer=insurer,
        errors=outcome.errors,
        patient=patient,
        cancel=outcome,
        response_number=sim.store.next_sequence(f"eattest-response:{insurer}"),
        now=now,
    )
    return _answer(sim, request, kmehr, opened, now)


# -- reading: unseal, verify the XAdES, decode the KMEHR -----------------------------------------


def _read(
    sim: Simulator, exchange: Exchange
) -> tuple[codec.AttestRequest, codec.Transaction, OpenedDetail]:
    try:
        request = codec.parse_request(exchange.payload)
    except PayloadError as error:
        raise faults.SoapFault("SOA-03007", str(error)) from None
    where = f"/{request.operation}Request/Detail"
    opened = open_detail(sim, request.detail, where, exchange.caller.certificate, xades=True)
    try:
        transaction = codec.read_transaction_request(opened.business_content, request)
    except PayloadError as error:
        raise faults.SoapFault("SOA-03007", str(error)) from None
    certified = check_care_provider(
        exchange,
        request.common.provider_nihii,
        f"/{request.operation}Request/CommonInput/Origin/CareProvider/Nihii/Value",
    )
    if certified is not None:
        # The author is then held to the token's holder, not only to CareProvider: 155 on
        # request/author ("incohérente avec celle du Web Service"), eAttest catalogue.
        transaction = dataclasses.replace(
            transaction,
            send=transaction.send
            and dataclasses.replace(transaction.send, envelope_provider_nihii=certified),
            cancel=transaction.cancel
            and dataclasses.replace(transaction.cancel, envelope_provider_nihii=certified),
        )
    return request, transaction, opened


# -- answering: sign the KMEHR, seal it for the requester ---------------------------------------


def _answer(
    sim: Simulator,
    request: codec.AttestRequest,
    kmehr: bytes,
    opened: OpenedDetail,
    now: datetime,
) -> etree._Element:
    content, encryption = close_detail(sim, kmehr, opened, xades=True)
    response = codec.build_response(
        request,
        content,
        content_encryption=encryption,
        response_id=f"_{uuid.uuid4().hex}",
        now=now,
    )
    return new_envelope(response)


# -- the records --------------------------------------------------------------------------------


def _history(sim: Simulator, query: AttestationQuery) -> list[LedgerService]:
    """What the insurers accepted for this patient: attested, billed by eFact or MediPrima."""
    if not query.patient_ssin:
        return []
    return sim.ledger.find(query.patient_ssin)


def _attested(sim: Simulator, number: str) -> Attested | None:
    doc = sim.records.get(ATTESTATIONS, number)
    if doc is None:
        return None
    cancellation = sim.records.get(CANCELLATIONS, number)
    return Attested(
        number=number,
        patient_ssin=doc["patient"],
        author_nihii=doc["author"],
        day=date.fromisoformat(doc["day"]),
        codes=tuple(line["code"] for line in doc["lines"]),
        cancelled=cancellation["reason"] if cancellation is not None else None,
    )


def _store(
    sim: Simulator,
    request: codec.AttestRequest,
    query: AttestationQuery,
    outcome: AttestationOutcome,
) -> tuple[str | None, AttestationOutcome]:
    """Number and store an accepted attestation and put its services in the ledger; what a
    simultaneous request put there a moment earlier refuses it (190 for a consultation)."""
    assert outcome.insurer is not None and outcome.day is not None and outcome.patient is not None
    day, ssin = outcome.day, outcome.patient.ssin
    sequence = sim.store.next_sequence(f"eattest:{outcome.insurer}:{day:%y%m%d}")
    number = invoicing_number(outcome.insurer, day, sequence)
    document: dict[str, Any] = {
        "number": number,
        "insurer": outcome.insurer,
        "patient": ssin,
        "author": query.author_nihii,
        "day": day.isoformat(),
        "lines": [_line_doc(line) for line in outcome.lines],
        "input_reference": request.common.input_reference,
        "attempt": request.attempt,
        "issued_at": sim.clock.now().isoformat(),
    }
    if not sim.records.insert(ATTESTATIONS, number, document):
        # The sequence never repeats, so this means the store was edited behind our back.
        raise faults.SoapFault("SOA-00001", f"invoicing number {number} already issued", "Server")
    services = attested_services(query, outcome.patient, day, number)
    try:
        findings = sim.ledger.admit(services)
    except LedgerBusy:  # another request kept this patient's ledger: the same visit, surely
        sim.records.delete(ATTESTATIONS, number)
        return None, duplicate_outcome(outcome)
    if findings:
        sim.records.delete(ATTESTATIONS, number)
        return None, refused_by_ledger(outcome, findings)
    reference = _reference_key(request, query)
    if reference is not None:
        sim.records.insert(REFERENCES, reference, {"number": number})
    return number, outcome


def _reference_key(request: codec.AttestRequest, query: AttestationQuery) -> str | None:
    reference = request.common.input_reference
    author = query.author_nihii or request.common.provider_nihii
    return f"{author}:{reference}" if reference and author else None


def _replay(
    sim: Simulator, request: codec.AttestRequest, query: AttestationQuery
) -> tuple[str, AttestationOutcome] | None:
    """A retry (attemptNbr > 1) of a request already accepted: the same attestation again."""
    key = _reference_key(request, query)
    if (request.attempt or 1) <= 1 or key is None:
        return None
    held = sim.records.get(REFERENCES, key)
    doc = sim.records.get(ATTESTATIONS, held["number"]) if held is not None else None
    if doc is None or doc["patient"] != query.patient_ssin:
        return None
    day = date.fromisoformat(doc["day"])
    lines = tuple(
        FeeLine(line["code"], Decimal(line["fee"]), day, line["quantity"]) for line in doc["lines"]
    )
    outcome = AttestationOutcome(
        patient=sim.population.find(doc["patient"]), insurer=doc["insurer"], day=day, lines=lines
    )
    return doc["number"], outcome


def _line_doc(line: FeeLine) -> dict[str, str]:
    return {"code": line.code, "fee": str(line.fee), "quantity": line.quantity}


def _cancel(
    sim: Simulator, attested: Attested, outcome: CancellationOutcome, today: date
) -> CancellationOutcome:
    """Record the cancellation once and take its services out of the ledger: they may be
    attested (or billed) anew."""
    record = {"reason": outcome.reason, "day": today.isoformat()}
    if not sim.records.insert(CANCELLATIONS, attested.number, record):
        return already_cancelled()  # another request cancelled it a moment ago
    sim.ledger.remove(attested.number)
    return outcome


def _legacy_operations() -> list[Operation]:
    handlers = {codec.SEND: send_attestation, codec.CANCEL: cancel_attestation}
    return [
        Operation(
            service="eattest",
            name=operation,
            path=path,
            payload=version.tag(operation),
            soap_actions=frozenset({"", f"{version.namespace}:{operation}"}),
            handler=handlers[operation],
            request_schema=f"eattest-{version.label}-request",
            response_schema=f"eattest-{version.label}-response",
        )
        for version, path in LEGACY_PATHS.items()
        for operation in version.operations
    ]


OPERATIONS = [
    Operation(
        service="eattest",
        name="SendAttestation",
        path=PATH,
        payload=codec.SEND_REQUEST_TAG,
        soap_actions=frozenset({SEND_ACTION}),
        handler=send_attestation,
        request_schema="eattest-request",
        response_schema="eattest-response",
    ),
    Operation(
        service="eattest",
        name="CancelAttestation",
        path=PATH,
        payload=codec.CANCEL_REQUEST_TAG,
        soap_actions=frozenset({CANCEL_ACTION}),
        handler=cancel_attestation,
        request_schema="eattest-request",
        response_schema="eattest-response",
    ),
    *_legacy_operations(),
]
