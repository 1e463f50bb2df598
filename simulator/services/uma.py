"""MediPrima UMA: doctors send, search and delete urgent-medical-aid attestations.

Accepted attestations are stored in `sim.records` (kind "uma", key "<ssin>:<number>" so that a
beneficiary's attestations are one prefix away); they survive a restart.
"""

from __future__ import annotations

import uuid

from lxml import etree

from simulator.codecs import uma as codec
from simulator.codecs.mycarenet_commons import PayloadError
from simulator.domain.identifiers import is_valid_niss
from simulator.domain.mediprima import DATA_NOT_FOUND, REQUESTER, SUCCESS, RegistryMessage
from simulator.domain.uma import (
    UmaAttestation,
    attestation_number,
    check_delete,
    check_send,
    error,
    search,
)
from simulator.runtime import Simulator
from simulator.server import overlay
from simulator.server.exchange import Exchange
from simulator.services.authority import NotTheCaller, certified_nihii
from simulator.services.registry import Operation
from simulator.soap import faults
from simulator.soap.envelope import new_envelope

PATH = "/MediPrima/UMA/v1"
ACTION = "urn:be:fgov:ehealth:mediprima:uma:protocol:v1:{}MedicalEmergencyAttestion"  # sic
KIND = "uma"


def _held(sim: Simulator, ssin: str) -> list[UmaAttestation]:
    return [UmaAttestation.from_record(r) for _, r in sim.records.find(KIND, prefix=f"{ssin}:")]


def _key(ssin: str, number: str) -> str:
    return f"{ssin}:{number}"


def _bad_payload(error_: PayloadError) -> faults.SoapFault:
    return faults.SoapFault("SOA-03007", str(error_))


def _caller(exchange: Exchange) -> str | None:
    """The doctor asking, as the verified token certifies it; None without a verified token
    (security off), "-" for a verified token that certifies no NIHII (it matches nobody)."""
    try:
        return certified_nihii(exchange)
    except NotTheCaller:
        return "-"


async def send_attestation(sim: Simulator, exchange: Exchange) -> etree._Element:
    try:
        request_id, send = codec.parse_send(exchange.payload)
    except PayloadError as broken:
        raise _bad_payload(broken) from None
    caller = _caller(exchange)
    exchange.provider_nihii = caller or next((n for p in send.author if (n := p.nihii)), None)
    exchange.patient_ssin = send.beneficiary_ssin
    overlay.decide(sim, exchange)  # a forced fault must leave nothing stored
    today = sim.clock.today()
    held = _held(sim, send.beneficiary_ssin)
    problem = check_send(send, sim.population, today, held, caller)
    attestation = None
    if problem is not None:
        exchange.business_code = problem.code
    else:
        # The store's sequence makes numbers unique; insert() refuses a key already taken.
        while attestation is None:
            number = attestation_number(today, sim.store.next_sequence("uma-attestation"))
            candidate = UmaAttestation(
                number,
                send.author,
                send.beneficiary_ssin,
                send.start,
                send.end,
                send.medical_cover.strip(),
                today,
            )
            if sim.records.insert(KIND, _key(send.beneficiary_ssin, number), candidate.to_record()):
                attestation = candidate
    response = codec.build_send_response(
        request_id,
        REQUESTER if problem is not None else SUCCESS,
        attestation=attestation,
        error=problem,
        response_id=f"_{uuid.uuid4().hex}",
        now=sim.clock.now(),
    )
    return new_envelope(response)


async def search_attestations(sim: Simulator, exchange: Exchange) -> etree._Element:
    try:
        request_id, criteria = codec.parse_search(exchange.payload)
    except PayloadError as broken:
        raise _bad_payload(broken) from None
    exchange.provider_nihii = _caller(exchange)
    ssin = criteria.beneficiary_ssin
    exchange.patient_ssin = ssin
    problem = None
    status = SUCCESS
    found: tuple[UmaAttestation, ...] = ()
    if not (len(ssin) == 11 and ssin.isdigit() and is_valid_niss(ssin, today=sim.clock.today())):
        problem, status = error("INVALID_SSIN", ssin), REQUESTER
    else:
        found = search(
            _held(sim, ssin),
            number=criteria.number,
            start=criteria.start,
            end=criteria.end,
            medical_cover=criteria.medical_cover,
        )
        if not found:
            status = DATA_NOT_FOUND
            if criteria.number is not None:
                problem = error("NOT_FOUND", criteria.number, ssin)
    if problem is not None:
        exchange.business_code = problem.code
    response = codec.build_search_response(
        request_id,
        status,
        attestations=found,
        error=problem,
        response_id=f"_{uuid.uuid4().hex}",
        now=sim.clock.now(),
    )
    return new_envelope(response)


async def delete_attestation(sim: Simulator, exchange: Exchange) -> etree._Element:
    try:
        request_id, delete = codec.parse_delete(exchange.payload)
    except PayloadError as broken:
        raise _bad_payload(broken) from None
    caller = _caller(exchange)
    written = next((n for party in delete.author if (n := party.nihii)), None)
    exchange.provider_nihii = caller or written
    exchange.patient_ssin = delete.beneficiary_ssin
    overlay.decide(sim, exchange)
    key = _key(delete.beneficiary_ssin, delete.number)
    record = sim.records.get(KIND, key)
    held = UmaAttestation.from_record(record) if record is not None else None
    # The token says who is asking; the Author block only counts when security is off, and
    # with a token it must name the same doctor (first 8 digits), as on send.
    if caller is not None and (written is None or written[:8] != caller[:8]):
        problem: RegistryMessage | None = error("AUTHOR_NOT_CALLER", written or "-", caller)
    else:
        problem = check_delete(held, delete.number, delete.beneficiary_ssin, caller or written)
    if problem is None and not sim.records.delete(KIND, key):
        # Deleted by a concurrent request in between: same answer as if it never existed.
        problem = error("NOT_FOUND", delete.number, delete.beneficiary_ssin)
    status = SUCCESS
    if problem is not None:
        exchange.business_code = problem.code
        status = DATA_NOT_FOUND if problem.code == "NOT_FOUND" else REQUESTER
    response = codec.build_delete_response(
        request_id,
        status,
        number=delete.number if problem is None else None,
        error=problem,
        response_id=f"_{uuid.uuid4().hex}",
        now=sim.clock.now(),
    )
    return new_envelope(response)


OPERATIONS = [
    Operation(
        service="mediprima-uma",
        name=name,
        path=PATH,
        payload=payload,
        soap_actions=frozenset({ACTION.format(verb)}),
        handler=handler,
        request_schema="uma-request",
        response_schema="uma-response",
    )
    for name, verb, payload, handler in (
        ("SendUrgentMedicalAidAttestation", "send", codec.SEND_REQUEST, send_attestation),
        ("SearchUrgentMedicalAidAttestation", "search", codec.SEARCH_REQUEST, search_attestations),
        ("DeleteUrgentMedicalAidAttestation", "delete", codec.DELETE_REQUEST, delete_attestation),
    )
]
