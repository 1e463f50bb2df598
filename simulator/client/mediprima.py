"""MediPrima calls for the connector-like client: consultation v1/v2, UMA and CAAMI tarification.

Plain async functions over a `ConnectorClient` (its token, signing and transport), the way a
vendor's connector would call the real services:

    async with ConnectorClient(url, keystore, password, ca_cert=ca) as client:
        answer = await consult(client, ssin, reference_date=date.today())
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from simulator.client.connector import ConnectorClient
from simulator.codecs import mediprima as consult_codec
from simulator.codecs import tarification_mediprima as tariff_codec
from simulator.codecs import uma as uma_codec
from simulator.domain.uma import Party, SendUma

CONSULT_PATHS = {1: "/MediPrima/Consult/v1", 2: "/MediPrima/Consult/v2"}
UMA_PATH = "/MediPrima/UMA/v1"
UMA_ACTION = "urn:be:fgov:ehealth:mediprima:uma:protocol:v1:{}MedicalEmergencyAttestion"  # sic
TARIFICATION_PATH = "/MyCareNet/TarificationMediPrima/v1"
TARIFICATION_ACTION = "urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1:TarificationConsult"
DOCTOR_COVER = "DOCTOR"  # the MedicalCover value our client sends for a GP's care [A]


def _request_id() -> str:
    return f"_{uuid.uuid4().hex}"


async def consult(
    client: ConnectorClient,
    ssin: str,
    *,
    version: int = 2,
    reference_date: date | None = None,
    period: tuple[date, date] | None = None,
    now: datetime | None = None,
) -> consult_codec.ConsultResult:
    """ConsultCarmedIntervention: the CPAS decisions of `ssin` on a date or over a period."""
    request = consult_codec.build_request(
        ssin,
        version=version,
        request_id=_request_id(),
        now=now or client.business_now(),
        reference_date=reference_date,
        period=period,
    )
    action = f"urn:be:fgov:ehealth:mediprima:protocol:v{version}:consultCarmedIntervention"
    reply = await client.call(CONSULT_PATHS[version], action, request)
    return consult_codec.parse_response(reply.payload)


def _author(client: ConnectorClient) -> tuple[Party, ...]:
    subject = client.subject
    if subject.nihii is None:
        raise ValueError("UMA needs a keystore certificate with a NIHII")
    name = subject.name or "Doctor"
    last, _, first = name.rpartition(" ")
    return uma_codec.author_of(subject.nihii, subject.ssin, last or name, first if last else None)


async def send_uma(
    client: ConnectorClient,
    ssin: str,
    start: date,
    end: date | None = None,
    *,
    medical_cover: str = DOCTOR_COVER,
    now: datetime | None = None,
) -> uma_codec.UmaResult:
    """Attest urgent medical aid for `ssin` from `start` (to `end`)."""
    send = SendUma(_author(client), ssin, start, end, medical_cover)
    request = uma_codec.build_send_request(
        send, request_id=_request_id(), now=now or client.business_now()
    )
    reply = await client.call(UMA_PATH, UMA_ACTION.format("send"), request)
    return uma_codec.parse_response(reply.payload)


async def search_uma(
    client: ConnectorClient,
    ssin: str,
    *,
    number: str | None = None,
    period: tuple[date, date | None] | None = None,
    medical_cover: str | None = None,
    now: datetime | None = None,
) -> uma_codec.UmaResult:
    """The attestations of `ssin`: the one numbered `number`, or those overlapping `period`."""
    start, end = period if period is not None else (None, None)
    search = uma_codec.SearchUma(ssin, number, start, end, medical_cover)
    request = uma_codec.build_search_request(
        search, request_id=_request_id(), now=now or client.business_now()
    )
    reply = await client.call(UMA_PATH, UMA_ACTION.format("search"), request)
    return uma_codec.parse_response(reply.payload)


async def delete_uma(
    client: ConnectorClient, ssin: str, number: str, *, now: datetime | None = None
) -> uma_codec.UmaResult:
    """Withdraw attestation `number` (only its author may)."""
    delete = uma_codec.DeleteUma(_author(client), ssin, number)
    request = uma_codec.build_delete_request(
        delete, request_id=_request_id(), now=now or client.business_now()
    )
    reply = await client.call(UMA_PATH, UMA_ACTION.format("delete"), request)
    return uma_codec.parse_response(reply.payload)


async def tarification(
    client: ConnectorClient,
    patient_ssin: str,
    codes: list[str],
    encounter_date: date,
    *,
    now: datetime | None = None,
) -> tariff_codec.MediprimaResult:
    """CAAMI tarification (`tariffmediprima`): State, CPAS and patient parts of each code."""
    subject = client.subject
    if subject.nihii is None or subject.ssin is None:
        raise ValueError("MediPrima tarification needs a certificate with a NIHII and an SSIN")
    moment = now or client.business_now()
    request = tariff_codec.build_request(
        provider_nihii=subject.nihii,
        provider_ssin=subject.ssin,
        provider_type="persdentist" if subject.profession == "DENTIST" else "persphysician",
        patient_ssin=patient_ssin,
        encounter_date=encounter_date,
        codes=codes,
        input_reference=moment.strftime("%Y%m%d%H%M%S%f")[:17],
        issue_instant=moment,
    )
    reply = await client.call(TARIFICATION_PATH, TARIFICATION_ACTION, request)
    return tariff_codec.parse_response(reply.payload)
