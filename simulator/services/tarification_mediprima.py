"""CAAMI tarification (TarificationMediPrima v1): the State/CPAS/patient split of each code."""

from __future__ import annotations

import dataclasses
import uuid

from lxml import etree

from simulator.codecs import tarification_mediprima as codec
from simulator.domain.tarification_mediprima import MediprimaOutcome, consult_mediprima_tariff
from simulator.runtime import Simulator
from simulator.server import overlay
from simulator.server.exchange import Exchange
from simulator.services.mediprima import stored_attestations
from simulator.services.registry import Operation
from simulator.services.tarification import read_request
from simulator.soap.envelope import new_envelope

PATH = "/MyCareNet/TarificationMediPrima/v1"
# Same WSDL operation and action as eTar (wire-formats 1.2).
SOAP_ACTION = "urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1:TarificationConsult"


async def tarification_mediprima(sim: Simulator, exchange: Exchange) -> etree._Element:
    request = read_request(sim, exchange)
    forced = overlay.forced_rule_error(sim, exchange)
    if forced is not None:
        outcome = MediprimaOutcome(errors=(forced,))
    else:
        ssin = (request.query.patient_ssin or "").strip()
        outcome = consult_mediprima_tariff(
            request.query,
            sim.population,
            sim.clock.today(),
            stored_attestations(sim, ssin) if ssin else (),
        )
    if outcome.errors:
        exchange.business_code = outcome.errors[0].code
    else:
        outcome = _with_commitments(sim, outcome)
    response = codec.build_response(
        request, outcome, response_id=f"_{uuid.uuid4().hex}", now=sim.clock.now()
    )
    return new_envelope(response)


def _with_commitments(sim: Simulator, outcome: MediprimaOutcome) -> MediprimaOutcome:
    """A CAAMI payment-commitment number per priced code, to be copied into the invoice."""
    day = sim.clock.today().strftime("%y%m%d")
    lines = tuple(
        dataclasses.replace(
            line,
            financial_contract=(
                f"{codec.INSURER}{day}{sim.store.next_sequence('commitment:mediprima'):07d}"
            ),
        )
        for line in outcome.lines
    )
    return dataclasses.replace(outcome, lines=lines)


OPERATIONS = [
    Operation(
        service="etar-mediprima",
        name="TarificationConsultation",
        path=PATH,
        payload=codec.REQUEST_TAG,
        soap_actions=frozenset({SOAP_ACTION}),
        handler=tarification_mediprima,
        request_schema="tarification-request",
        response_schema="tarification-response",
    )
]
