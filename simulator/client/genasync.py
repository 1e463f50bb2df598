"""GenAsync calls the way the eHealth connector makes them (post, get, confirm).

WS-Addressing headers, the SAML holder-of-key signature, XAdES-BES over the posted Detail;
answers are checked (response signature) and faults come back as `GenAsyncFaultError` carrying
the `ga:fault` detail. Used by the tests and as an example for vendors.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from lxml import etree

from simulator.client.connector import ANSWER_LIMITS, ConnectorClient, wire_now
from simulator.client.wss_layout import secure_saml
from simulator.codecs import genasync as codec
from simulator.security.wssecurity import SecurityError, verify_request
from simulator.security.xades import sign_blob
from simulator.services.mailbox import MAILBOXES
from simulator.soap.addressing import DESTINATION_PREFIX, request_headers
from simulator.soap.envelope import read_envelope
from simulator.soap.namespaces import SOAP11
from simulator.soap.parser import parse_xml

ACTIONS = {
    "post": "urn:be:cin:nip:async:generic:post:msg",
    "get": "urn:be:cin:nip:async:generic:get:query",
    "confirm": "urn:be:cin:nip:async:generic:confirm:hash",
}
LICENSE = ("mycarenet-sim", "mycarenet-sim")  # the simulator does not check licences


class GenAsyncFaultError(Exception):
    """The service answered a SOAP fault; `fault` is its ga:fault detail when present."""

    def __init__(self, status: int, faultcode: str, text: str, fault: codec.Fault | None) -> None:
        super().__init__(f"HTTP {status} {faultcode}: {text}")
        self.status = status
        self.faultcode = faultcode
        self.fault = fault


def origin_of(client: ConnectorClient) -> codec.Origin:
    """Origin for the keystore holder: package licence and the care provider's NIHII."""
    if client.subject.nihii is None:
        raise ValueError("GenAsync needs a keystore certificate with a NIHII")
    return codec.Origin(
        package_name="mycarenet-sim client",
        license_username=LICENSE[0],
        license_password=LICENSE[1],
        provider_quality="doctor",
        provider_nihii=client.subject.nihii,
        person_ssin=client.subject.ssin,
    )


async def post(
    client: ConnectorClient,
    mailbox: str,
    content: bytes,
    *,
    message_name: str,
    destination_io: str | None,
    input_reference: str,
    with_xades: bool = True,
) -> codec.TAck:
    """Post `content` (deflated, base64) to `mailbox`; returns the TAck. Dates inside
    `content` are the caller's business dates; the signatures use the real clock."""
    payload = post_payload(
        client,
        content,
        message_name=message_name,
        input_reference=input_reference,
        with_xades=with_xades,
        moment=wire_now(),  # the XAdES signing time is real time, like every signature
    )
    to = destination(destination_io)
    answer = await call(client, mailbox, "post", payload, to=to)
    return codec.parse_post_response(answer)


def post_payload(
    client: ConnectorClient,
    content: bytes,
    *,
    message_name: str,
    input_reference: str,
    with_xades: bool,
    moment: datetime,
) -> etree._Element:
    """The `post` request body: the blob and, as the connector adds it, its XAdES-BES."""
    common = codec.CommonInput(
        is_test=True, origin=origin_of(client), input_reference=input_reference
    )
    blob = codec.Blob(content=content, message_name=message_name, id="blob")
    payload = codec.build_post(common, blob)
    if with_xades:
        detail = payload.find(f"{{{codec.GA}}}Detail")
        assert detail is not None
        signature = sign_blob(
            detail, key=client.identity.key, cert=client.identity.cert, signing_time=moment
        )
        payload.append(codec.build_post(common, blob, xades=signature)[-1])
    return payload


def destination(destination_io: str | None) -> str | None:
    """The WS-Addressing To of a post addressed to one insurer (None: the mailbox's default)."""
    return f"{DESTINATION_PREFIX}{destination_io}" if destination_io else None


async def get(
    client: ConnectorClient,
    mailbox: str,
    *,
    message_names: Iterable[str] = (),
    max_messages: int = codec.DEFAULT_MAX,
    include_messages: bool = True,
    include_tacks: bool = True,
    max_tacks: int = codec.DEFAULT_MAX,
) -> codec.GetResponse:
    request = codec.GetRequest(
        origin=origin_of(client),
        msg_query=codec.Query(include_messages, max_messages),
        message_names=tuple(message_names),
        tack_query=codec.Query(include_tacks, max_tacks),
    )
    answer = await call(
        client, mailbox, "get", codec.build_get(request), to=None
    )
    return codec.parse_get_response(answer)


async def confirm(
    client: ConnectorClient,
    mailbox: str,
    *,
    hash_values: Iterable[bytes] = (),
    references: Iterable[str] = (),
    tack_contents: Iterable[bytes] = (),
    tack_references: Iterable[str] = (),
) -> None:
    request = codec.ConfirmRequest(
        origin=origin_of(client),
        msg_hash_values=tuple(hash_values),
        msg_references=tuple(references),
        tack_contents=tuple(tack_contents),
        tack_references=tuple(tack_references),
    )
    answer = await call(
        client, mailbox, "confirm", codec.build_confirm(request), to=None
    )
    if answer.tag != codec.CONFIRM_RESPONSE:
        raise ValueError(f"expected confirmResponse, got {answer.tag}")


async def call(
    client: ConnectorClient,
    mailbox: str,
    operation: str,
    payload: etree._Element,
    *,
    to: str | None,
) -> etree._Element:
    """One signed GenAsync exchange; returns the answer's payload or raises the fault. The
    signatures use the real clock."""
    path, action, body = signed_request(
        client, await client.token(), mailbox, operation, payload, to=to, now=wire_now()
    )
    status, raw = await client.send_bytes(path, action, body)
    return read_answer(client, status, raw, now=wire_now())


def signed_request(
    client: ConnectorClient,
    assertion: etree._Element,
    mailbox: str,
    operation: str,
    payload: etree._Element,
    *,
    to: str | None,
    now: datetime,
) -> tuple[str, str, bytes]:
    """Path, wsa:Action and body of a GenAsync request signed with the SAML token, in the
    client's dialect: the connector signs the Timestamp only (wire-formats 1.9) and writes a
    bare UUID MessageID; e-Contract and eHI sign the Body too; e-Contract addresses MULTICAST."""
    dialect = client.dialect
    action = ACTIONS[operation]
    if operation == "post" and dialect.genasync_to_multicast:
        to = f"{DESTINATION_PREFIX}MULTICAST"
    headers = request_headers(action, to=to, message_id=dialect.genasync_message_id())
    envelope = dialect.envelope(payload, headers)
    secure_saml(
        envelope,
        assertion,
        client.identity.key,
        dialect.header,
        now=now,
        sign_body=dialect.genasync_sign_body,
    )
    return MAILBOXES[mailbox].path, action, dialect.serialize(envelope)


def read_answer(
    client: ConnectorClient, status: int, raw: bytes, *, now: datetime
) -> etree._Element:
    """The answer's payload once its security header holds; raises GenAsyncFaultError for a
    fault. `now` is kept for the callers that verify at a given instant."""
    root = parse_xml(raw, ANSWER_LIMITS)
    fault = root.find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault")
    if fault is not None:
        detail = fault.find(f"detail/{{{codec.GA}}}fault")
        raise GenAsyncFaultError(
            status,
            fault.findtext("faultcode") or "",
            fault.findtext("faultstring") or "",
            codec.parse_fault(detail) if detail is not None else None,
        )
    if client.dialect.timestamp_only_answers:
        client.check_answer(status, raw)
        return read_envelope(root).payload
    try:
        verify_request(root, ca_cert=client.ca_cert, sts_cert=None, now=now, require="x509")
    except SecurityError as error:
        raise ValueError(f"GenAsync answer signature rejected: {error.reason}") from None
    return read_envelope(root).payload
