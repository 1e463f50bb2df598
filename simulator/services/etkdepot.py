"""ETK depot: the encryption tokens clients need to seal for MyCareNet (and for themselves)."""

from __future__ import annotations

import uuid

from lxml import etree

from simulator.codecs import etkdepot as codec
from simulator.runtime import Simulator
from simulator.server.exchange import Exchange
from simulator.services.registry import Operation, TokenProfile
from simulator.soap import faults
from simulator.soap.envelope import new_envelope

PATH = "/EtkDepot/v1"
# The same depot where KH (`ws/GetETK.js`) calls it, SAML-signed with SOAPAction "".
ETEE_PATH = "/etee/v1/ETKDepot"
MYCARENET_CBE = "0820563481"
MYCARENET_APPLICATION = "MYCARENET"


async def get_etk(sim: Simulator, exchange: Exchange) -> etree._Element:
    try:
        queries = codec.parse_request(exchange.payload)
    except codec.EtkRequestError as error:
        raise faults.SoapFault("SOA-03007", str(error)) from None
    query = queries[0]
    etk: bytes | None = None
    message: str | None = None
    if _is_mycarenet(query):
        etk = sim.insurer_etk
    else:
        etk = sim.provider_etk(query.identifier_type, query.value)
        if etk is None:
            message = (
                f"no ETK registered for {query.identifier_type}={query.value}"
                f"{'/' + query.application if query.application else ''}; the insurer's ETK is "
                f"CBE={MYCARENET_CBE}/{MYCARENET_APPLICATION}"
            )
            exchange.business_code = "DataNotFound"
    response = codec.build_response(
        etk=etk, message=message, response_id=f"_{uuid.uuid4().hex}", now=sim.clock.now()
    )
    return new_envelope(response)


def _is_mycarenet(query: codec.EtkQuery) -> bool:
    return (
        query.identifier_type.upper() == "CBE"
        and query.value.zfill(10) == MYCARENET_CBE
        and (query.application or MYCARENET_APPLICATION).upper() == MYCARENET_APPLICATION
    )


OPERATIONS = [
    Operation(
        service="etkdepot",
        name="GetEtk",
        path=path,
        payload=f"{{{codec.PROTOCOL}}}GetEtkRequest",
        soap_actions=frozenset({"", "urn:be:fgov:ehealth:etkdepot:1_0:protocol:GetEtk"}),
        handler=get_etk,
        # The ETK depot is a public directory: the connector calls it without a token, KH
        # with its SAML token; neither is required, so neither is checked.
        token=TokenProfile.NONE,
        request_schema="etk-request",
    )
    for path in (PATH, ETEE_PATH)
]
