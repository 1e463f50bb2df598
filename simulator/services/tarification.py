"""eTar (MyCareNet Tarification v1): what the patient's insurer would pay for each code."""

from __future__ import annotations

import dataclasses
import uuid

from lxml import etree

from simulator.codecs import tarification as codec
from simulator.domain.tarification import TarificationOutcome, consult_tariff
from simulator.runtime import Simulator
from simulator.server import overlay
from simulator.server.exchange import Exchange
from simulator.services.registry import Operation
from simulator.soap import faults
from simulator.soap.envelope import new_envelope

PATH = "/MyCareNet/Tarification/v1"
SOAP_ACTION = "urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1:TarificationConsult"
NAMESPACE = "urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1"


def read_request(sim: Simulator, exchange: Exchange) -> codec.TarificationRequest:
    """The consultation in the payload (eTar and CAAMI tarification alike), its KMEHR checked
    against the official bundle when one is loaded; the journal learns who and whom."""
    try:
        request = codec.parse_request(exchange.payload)
    except codec.PayloadError as error:
        raise faults.SoapFault("SOA-03007", str(error)) from None
    if sim.official_schemas is not None:
        violation = sim.official_schemas.validate(request.kmehr_request)
        if violation is not None:
            raise faults.not_xsd_conform(f"Detail blob: {violation.describe()}")
    query = request.query
    exchange.provider_nihii = query.author_nihii or query.envelope_provider_nihii
    exchange.patient_ssin = query.patient_ssin or query.envelope_patient_ssin
    exchange.codes = tuple(claim.code for claim in query.claims if claim.code)
    return request


async def tarification_consultation(sim: Simulator, exchange: Exchange) -> etree._Element:
    request = read_request(sim, exchange)
    query = request.query
    forced = overlay.forced_rule_error(sim, exchange)
    if forced is not None:
        outcome = TarificationOutcome(errors=(forced,))
    else:
        outcome = consult_tariff(query, sim.population, sim.clock.today())
    if outcome.errors:
        exchange.business_code = outcome.errors[0].code
    else:
        outcome = _with_commitments(sim, outcome)

    now = sim.clock.now()
    response = codec.build_response(
        request,
        outcome,
        response_id=f"_{uuid.uuid4().hex}",
        issue_instant=now,
        now=now,
    )
    return new_envelope(response)


def _with_commitments(sim: Simulator, outcome: TarificationOutcome) -> TarificationOutcome:
    """Give each priced code a payment-commitment number the insurer would honour in eFact."""
    insurer = outcome.insurer or "000"
    day = sim.clock.today().strftime("%y%m%d")
    lines = tuple(
        dataclasses.replace(
            line,
            financial_contract=f"{insurer}{day}{sim.store.next_sequence(f'commitment:{insurer}'):07d}",
        )
        for line in outcome.lines
    )
    return dataclasses.replace(outcome, lines=lines)


OPERATIONS = [
    Operation(
        service="etar",
        name="TarificationConsultation",
        path=PATH,
        payload=f"{{{NAMESPACE}}}TarificationConsultationRequest",
        soap_actions=frozenset({SOAP_ACTION}),
        handler=tarification_consultation,
        request_schema="tarification-request",
        response_schema="tarification-response",
    )
]
