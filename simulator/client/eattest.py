"""eAttest v3 for the package client: send and cancel an attestation the connector's way.

The KMEHR goes into an EncryptedKnownContent with our Reply-to-Etk, is signed there with XAdES
(enveloped, wire-formats 1.8) and sealed for MyCareNet's ETK. The answer is unsealed with our
key and its XAdES checked against the CA before the KMEHR is read.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from lxml import etree

from simulator.client.connector import ConnectorClient
from simulator.codecs import eattest as codec
from simulator.codecs.encrypted_content import (
    KnownContent,
    build_known_content,
    parse_known_content,
)
from simulator.codecs.mycarenet_commons import CommonInput
from simulator.security.etk import parse_etk
from simulator.security.sealing import seal, unseal
from simulator.security.xades import sign_enveloped, verify_enveloped
from simulator.soap.parser import parse_xml

PATH = "/MyCareNet/eAttest/v3"
SEND_ACTION = f"{codec.NAMESPACE}:SendAttestation"
CANCEL_ACTION = f"{codec.NAMESPACE}:CancelAttestation"
SEALED_FOR_INSURER = "encryptedForKnownBED"
# A valid BCE number for the party that collects the payment (the provider's own practice).
DEFAULT_RECEIVING_PARTY = "0123456749"
_HCPARTY = {"DENTIST": "persdentist", "PHYSIOTHERAPIST": "persphysiotherapist"}
_QUALITY = {"DENTIST": "dentist", "PHYSIOTHERAPIST": "physiotherapist"}


@dataclass(frozen=True)
class PatientRef:
    """The patient as billing software knows them: what an attestation names of them. A
    population `Patient` serves as well."""

    ssin: str
    first_name: str
    last_name: str
    sex: str  # "male" | "female"


@dataclass(frozen=True)
class AttestationReply:
    result: codec.AttestResult
    sealed_detail: bytes | None  # the answer's Detail as received (a seal), for independent checks
    known_content: bytes | None  # the unsealed EncryptedKnownContent, XAdES included


async def send_attestation(
    client: ConnectorClient,
    patient: codec.PatientIdentity,
    services: Sequence[codec.ServiceLine],
    *,
    receiving_party: str = DEFAULT_RECEIVING_PARTY,
    supplement: Decimal | None = None,
    transaction_date: date | None = None,
    attempt: int = 1,
    input_reference: str | None = None,
    sealed: bool = True,
    now: datetime | None = None,
) -> AttestationReply:
    """SendAttestation for `patient`; `services` carry what the provider charged."""
    moment = now or client.business_now()
    kmehr = codec.build_send_transaction(
        _author(client),
        patient,
        services,
        now=moment,
        receiving_party=receiving_party,
        supplement=supplement,
        transaction_date=transaction_date,
    )
    return await send_kmehr(
        client,
        codec.SEND,
        kmehr,
        patient_ssin=patient.ssin,
        reference_date=moment.date(),
        attempt=attempt,
        input_reference=input_reference,
        sealed=sealed,
        now=moment,
    )


async def cancel_attestation(
    client: ConnectorClient,
    patient: codec.PatientIdentity,
    invoicing_number: str,
    reason: str,
    *,
    sealed: bool = True,
    now: datetime | None = None,
) -> AttestationReply:
    """CancelAttestation of `invoicing_number` for a reason of the CIN list (A-G)."""
    moment = now or client.business_now()
    kmehr = codec.build_cancel_transaction(
        _author(client), patient, invoicing_number, reason, now=moment
    )
    return await send_kmehr(
        client,
        codec.CANCEL,
        kmehr,
        patient_ssin=patient.ssin,
        reference_date=moment.date(),
        sealed=sealed,
        now=moment,
    )


async def send_kmehr(
    client: ConnectorClient,
    operation: str,
    kmehr: bytes,
    *,
    patient_ssin: str,
    reference_date: date,
    attempt: int = 1,
    input_reference: str | None = None,
    sealed: bool = True,
    sign: bool = True,
    now: datetime | None = None,
) -> AttestationReply:
    """Send a ready KMEHR SendTransactionRequest (tests use it for hand-made payloads)."""
    if client.subject.nihii is None:
        raise ValueError("eAttest needs a keystore certificate with a NIHII")
    moment = now or client.business_now()
    reference = input_reference or moment.strftime("%Y%m%d%H%M%S%f")[:17]
    common = CommonInput(
        is_test=True,
        input_reference=reference,
        package_name="mycarenet-sim client",
        provider_quality=_QUALITY.get(client.subject.profession or "", "doctor"),
        provider_nihii=client.subject.nihii,
        provider_ssin=client.subject.ssin,
    )
    detail = await _seal_signed(client, kmehr, sign=sign) if sealed else kmehr
    request = codec.build_request(
        operation,
        common,
        detail,
        attempt=attempt,
        patient_ssin=patient_ssin,
        reference_date=reference_date,
        content_encryption=SEALED_FOR_INSURER if sealed else None,
        request_id=f"_{uuid.uuid4().hex}",
        now=moment,
    )
    action = SEND_ACTION if operation == codec.SEND else CANCEL_ACTION
    reply = await client.call(PATH, action, request)
    answer = codec.parse_response_detail(reply.payload)
    if answer.content_encryption is None:
        return AttestationReply(codec.read_transaction_response(answer.content), None, None)
    unsealed = unseal(answer.content, recipient=client.identity, trusted_ca=client.ca_cert)
    # The insurer signs the KMEHR inside the seal; a bad signature raises XadesError here.
    verify_enveloped(parse_xml(unsealed.content), ca_cert=client.ca_cert, now=datetime.now(UTC))
    payload = parse_known_content(unsealed.content).business_content
    return AttestationReply(
        codec.read_transaction_response(payload), answer.content, unsealed.content
    )


async def _seal_signed(client: ConnectorClient, kmehr: bytes, *, sign: bool) -> bytes:
    """EncryptedKnownContent{Reply-to-Etk, BusinessContent, Xades}, sealed for MyCareNet."""
    insurer = parse_etk(await client.insurer_etk())
    known = build_known_content(
        KnownContent(
            business_content=kmehr,
            reply_to_etk=await client.own_etk(),
            xades=None,
            content_id=f"_{uuid.uuid4()}",
        )
    )
    if sign:
        document = parse_xml(known)
        sign_enveloped(
            document,
            key=client.identity.key,
            cert=client.identity.cert,
            signing_time=datetime.now(UTC),
        )
        known = etree.tostring(document, xml_declaration=True, encoding="UTF-8")
    return seal(known, sender=client.identity, recipients=[insurer])


def _author(client: ConnectorClient) -> codec.Author:
    subject = client.subject
    if subject.nihii is None or subject.ssin is None:
        raise ValueError("eAttest needs a keystore certificate with a NIHII and an SSIN")
    first, _, last = (subject.name or "").partition(" ")
    return codec.Author(
        nihii=subject.nihii,
        ssin=subject.ssin,
        kind=_HCPARTY.get(subject.profession or "", "persphysician"),
        first_name=first or "-",
        last_name=last or "-",
    )
