"""MemberData v1 (sync): insurability and the other facets of one member, as SAML 2.0."""

from __future__ import annotations

import dataclasses
import uuid

from lxml import etree

from simulator.codecs import memberdata as codec
from simulator.codecs.mycarenet_commons import PayloadError
from simulator.domain.memberdata import MemberDataAnswer, consult_member_data, status_detail
from simulator.runtime import Simulator
from simulator.server import overlay
from simulator.server.exchange import Exchange
from simulator.services.authority import check_care_provider
from simulator.services.registry import Operation
from simulator.services.sealed_content import close_detail, open_detail
from simulator.soap import faults
from simulator.soap.envelope import new_envelope

PATH = "/MyCareNet/MemberData/v1"
# The regional entities' copies of the same service: same operation, same answers (CONN 4.7.3
# `memberdatav2/session/impl/regional/*`, `uddi/uddi-default.properties`; client-quirks #11).
REGIONAL_PATHS = ("/IrisCareNet/MemberData/v1", "/WalCareNet/MemberData/v1")
SOAP_ACTION = "urn:be:fgov:ehealth:mycarenet:memberdata:protocol:v1:MemberDataConsultation"
DETAIL = "/MemberDataConsultationRequest/Detail"


async def member_data_consultation(sim: Simulator, exchange: Exchange) -> etree._Element:
    try:
        request = codec.parse_request(exchange.payload)
    except PayloadError as error:
        raise faults.SoapFault("SOA-03007", str(error)) from None
    certified = check_care_provider(
        exchange,
        request.common.provider_nihii,
        "/MemberDataConsultationRequest/CommonInput/Origin/CareProvider/Nihii/Value",
    )
    opened = open_detail(sim, request.detail, DETAIL, exchange.caller.certificate)
    try:
        query = codec.read_attribute_query(opened.business_content, request.common)
    except PayloadError as error:
        raise faults.SoapFault("SOA-03007", str(error)) from None
    if certified is not None:  # the Issuer is then crosschecked with the token's holder
        query = dataclasses.replace(query, requester_nihii=certified)
    exchange.provider_nihii = request.common.provider_nihii
    exchange.patient_ssin = (query.name_id or "").split("@", 1)[0] or None

    forced = overlay.scenario_rejection(sim, exchange)
    if forced is not None:
        refusal = status_detail(forced.code, forced.path)
        answer = MemberDataAnswer(status=refusal.status, details=(refusal,))
    else:
        answer = consult_member_data(query, sim.population, sim.clock.today())
        if answer.patient is not None:  # asked by registration number: journal the NISS
            exchange.patient_ssin = answer.patient.ssin
    if not answer.accepted:
        exchange.business_code = answer.details[0].code
    now = sim.clock.now()
    saml_response = codec.build_saml_response(answer, query, now=now)
    detail, encryption = close_detail(sim, saml_response, opened)
    response = codec.build_response(
        request,
        detail,
        content_encryption=encryption,
        response_id=f"_{uuid.uuid4().hex}",
        now=now,
    )
    return new_envelope(response)


OPERATIONS = [
    Operation(
        service="memberdata",
        name="MemberDataConsultation",
        path=path,
        payload=codec.REQUEST_TAG,
        soap_actions=frozenset({SOAP_ACTION}),
        handler=member_data_consultation,
        request_schema="memberdata-request",
        response_schema="memberdata-response",
    )
    for path in (PATH, *REGIONAL_PATHS)
]
