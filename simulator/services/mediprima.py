"""MediPrima consultation v1 and v2: is this person covered by a CPAS decision, and how."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date

from lxml import etree

from simulator.codecs import mediprima as codec
from simulator.codecs.mycarenet_commons import PayloadError
from simulator.domain.mediprima import CarmedResult, consult_carmed
from simulator.domain.uma import UmaAttestation
from simulator.runtime import Simulator
from simulator.server.exchange import Exchange
from simulator.services.registry import Operation
from simulator.soap import faults
from simulator.soap.envelope import new_envelope

PATHS = {1: "/MediPrima/Consult/v1", 2: "/MediPrima/Consult/v2"}
UMA_RECORDS = "uma"  # the kind UMA attestations are stored under (services.uma)
AGREEMENTS = "mediprima-agreement"  # store sequence of agreement numbers


def soap_action(version: int) -> str:
    return f"urn:be:fgov:ehealth:mediprima:protocol:v{version}:consultCarmedIntervention"


async def consult_carmed_intervention(sim: Simulator, exchange: Exchange) -> etree._Element:
    try:
        request = codec.parse_request(exchange.payload)
    except PayloadError as error:
        raise faults.SoapFault("SOA-03007", str(error)) from None
    exchange.provider_nihii = exchange.caller.nihii
    exchange.patient_ssin = request.ssin
    answer = consult_carmed(
        request.query(exchange.caller.nihii),
        sim.population,
        sim.clock.today(),
        stored_attestations(sim, request.ssin),
    )
    if answer.messages and not answer.found:
        exchange.business_code = answer.messages[0].code
    now = sim.clock.now()
    response = codec.build_response(
        request,
        answer,
        agreements=_agreements(sim, answer.results),
        response_id=f"_{uuid.uuid4().hex}",
        now=now,
    )
    return new_envelope(response)


def stored_attestations(sim: Simulator, ssin: str) -> list[tuple[str, date, date | None]]:
    """(number, start, end) of the AMU attestations doctors sent for `ssin` through UMA: what
    CAAMI checks before pricing and paying urgent aid (docs/rules.md)."""
    held = (
        UmaAttestation.from_record(record)
        for _, record in sim.records.find(UMA_RECORDS, prefix=f"{ssin}:")
    )
    return [(a.number, a.start, a.end) for a in held]


def _agreements(sim: Simulator, results: Iterable[CarmedResult]) -> dict[str, str]:
    """An agreement number per decision the caller may bill: a store sequence, never reused."""
    day = sim.clock.today().strftime("%y%m%d")
    return {
        result.decision.carmed_number: f"MP{day}{sim.store.next_sequence(AGREEMENTS):08d}"
        for result in results
        if result.agreement
    }


OPERATIONS = [
    Operation(
        service="mediprima",
        name=f"ConsultCarmedIntervention v{version}",
        path=path,
        payload=codec.request_tag(version),
        # The connector sends the documented action; a missing header is tolerated as well.
        soap_actions=frozenset({soap_action(version), ""}),
        handler=consult_carmed_intervention,
        request_schema=f"mediprima-v{version}-request",
        response_schema=f"mediprima-v{version}-response",
    )
    for version, path in PATHS.items()
]
