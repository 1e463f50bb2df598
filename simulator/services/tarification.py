"""eTar (MyCareNet Tarification v1): what the patient's insurer would pay for each code."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date

from lxml import etree

from simulator.codecs import tarification as codec
from simulator.domain.tarification import TarificationOutcome, TarificationQuery, consult_tariff
from simulator.efact.situation import Commitment
from simulator.runtime import Simulator
from simulator.server import overlay
from simulator.server.exchange import Exchange
from simulator.services.authority import check_care_provider
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
    certified = check_care_provider(
        exchange, query.envelope_provider_nihii, "/CommonInput/Origin/CareProvider/Nihii/Value"
    )
    if certified is not None:
        # The author is then held to the token's holder, not only to CareProvider (155).
        query = dataclasses.replace(query, envelope_provider_nihii=certified)
        request = dataclasses.replace(request, query=query)
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
        outcome, commitments = _with_commitments(sim, outcome, query)
        await _keep_commitments(sim, commitments)

    now = sim.clock.now()
    response = codec.build_response(
        request,
        outcome,
        response_id=f"_{uuid.uuid4().hex}",
        issue_instant=now,
        now=now,
    )
    return new_envelope(response)


# Payment commitments handed out, by number: eFact honours them (record 51 zones 42-45,
# docs/rules.md "eFact": 514225 for a number it never gave, 501920 for another amount).
COMMITMENTS = "etar-commitment"


Commitments = dict[str, dict[str, object]]  # number -> what it commits to


def _with_commitments(
    sim: Simulator, outcome: TarificationOutcome, query: TarificationQuery
) -> tuple[TarificationOutcome, Commitments]:
    """Give each priced code a payment-commitment number the insurer would honour in eFact;
    with it, what each number commits to (patient, code, day, author, amounts), for the caller
    to store before the answer leaves."""
    insurer = outcome.insurer or "000"
    day = sim.clock.today().strftime("%y%m%d")
    lines = tuple(
        dataclasses.replace(
            line,
            financial_contract=f"{insurer}{day}{sim.store.next_sequence(f'commitment:{insurer}'):07d}",
        )
        for line in outcome.lines
    )
    encounter = (query.encounter_date or "")[:10]
    documents: Commitments = {}
    if outcome.patient is not None and encounter:
        documents = {
            line.financial_contract: {
                "patient": outcome.patient.ssin,
                "code": line.code[-6:],
                "day": encounter,
                "provider": query.author_nihii or "",
                "reimbursement": int(line.reimbursement * 100),
                "patient_fee": int(line.patient_fee * 100),
            }
            for line in lines
        }
    return dataclasses.replace(outcome, lines=lines), documents


async def _keep_commitments(sim: Simulator, documents: Commitments) -> None:
    """Store the commitments before the answer leaves, without holding the event loop on a
    round trip to PostgreSQL (store/group_commit.py)."""
    await sim.records.put_many(COMMITMENTS, documents)


def commitment(sim: Simulator, number: str) -> Commitment | None:
    """The commitment eTar gave under `number`, None when it gave none."""
    doc = sim.records.get(COMMITMENTS, number)
    if doc is None:
        return None
    try:
        day = date.fromisoformat(str(doc["day"]))
    except ValueError:
        return None
    return Commitment(
        number=number, patient=str(doc["patient"]), code=str(doc["code"]), day=day,
        provider=str(doc["provider"]), reimbursement=int(doc["reimbursement"]),
        patient_fee=int(doc["patient_fee"]),
    )  # fmt: skip


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
