"""GenAsync (`urn:be:cin:nip:async:generic`): post, get, confirm at the MyCareNet mailboxes.

The messaging only: `post` keeps what was sent and answers a TAck, `get` lists what waits for
the caller, `confirm` removes it. What the insurer does with a posted eFact file (931000,
920098, ...) is decided elsewhere and comes back through `mailbox.deliver`.
Bad requests get the GenAsync fault (`ga:fault`, types:FaultType), not the ESB's SOA detail.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from lxml import etree

from simulator.codecs import genasync as codec
from simulator.codecs.mycarenet_commons import PayloadError
from simulator.config import SecurityMode
from simulator.runtime import RESPONSE_TIMESTAMP_TTL, Simulator
from simulator.security.wssecurity import sign_response
from simulator.security.xades import XadesError, verify_blob
from simulator.server import overlay
from simulator.server.exchange import Exchange
from simulator.services import efact_jobs, memberdata_async
from simulator.services import efact_processing as efact
from simulator.services import mailbox as boxes
from simulator.services.authority import NotTheCaller, acting_nihii
from simulator.services.registry import Handler, Operation
from simulator.soap import faults
from simulator.soap.addressing import Addressing, read_addressing, response_headers
from simulator.soap.envelope import Envelope, new_envelope, serialize
from simulator.soap.namespaces import SOAP11, WSA

ACTION = "urn:be:cin:nip:async:generic"
POST_ACTION = f"{ACTION}:post:msg"
GET_ACTION = f"{ACTION}:get:query"
CONFIRM_ACTION = f"{ACTION}:confirm:hash"
ANSWER_ACTIONS = {
    "post": f"{ACTION}:post:tack",
    "get": f"{ACTION}:get:msgs",
    "confirm": f"{ACTION}:confirm:return",
}
FAULT_SOURCE = "MYCARENET"
MULTICAST = "MULTICAST"  # destination of content-routed posts (EC's MemberData To names it)
_PATHS = {box.path: box for box in boxes.MAILBOXES.values()}


@dataclass
class GenAsyncFault(faults.SoapFault):
    """A bad GenAsync request: rendered as `ga:fault` with this FaultCode and Location."""

    fault_code: str = "INPUT_ERROR"
    location: str | None = None


def _input_error(reason: str, location: str | None = None) -> GenAsyncFault:
    return GenAsyncFault("SOA-03007", reason, fault_code="INPUT_ERROR", location=location)


def _mailbox(exchange: Exchange) -> boxes.Mailbox:
    return _PATHS[exchange.path]


def _recipient(sim: Simulator, exchange: Exchange, origin: codec.Origin, where: str) -> str:
    """The NIHII whose mailbox is used: the token's, which Origin must not contradict.

    Whatever the security mode, a verified token decides: Origin is never a fallback for it
    (a token read as certifying "" once let any caller name another GP's mailbox).
    """
    try:
        nihii = acting_nihii(exchange, origin.provider_nihii, f"{where}/CareProvider")
    except NotTheCaller as refusal:
        # MyCareNet: the CareProvider must be the token's holder, else the ESB's "no access"
        # (SOA-01002, GenIns catalogue), a GenAsync AUTHORIZATION_ERROR.
        raise GenAsyncFault(
            "SOA-01002",
            refusal.reason,
            fault_code="AUTHORIZATION_ERROR",
            location=f"{where}/CareProvider/Nihii/Value",
        ) from None
    if not nihii:
        raise _input_error(
            "no NIHII: neither the SAML token nor Origin/CareProvider names one",
            f"{where}/CareProvider",
        )
    exchange.provider_nihii = nihii
    return nihii


def _answer(payload: etree._Element, operation: str, addressing: Addressing) -> etree._Element:
    return new_envelope(payload, response_headers(ANSWER_ACTIONS[operation], addressing))


# -- post -------------------------------------------------------------------------------------


async def post(sim: Simulator, exchange: Exchange) -> etree._Element:
    box = _mailbox(exchange)
    try:
        request = codec.parse_post(exchange.payload)
    except PayloadError as error:
        raise _input_error(str(error)) from None
    assert exchange.envelope is not None
    addressing = read_addressing(exchange.envelope)
    sent_to = bool(exchange.envelope.header_blocks(WSA, "To"))
    destination = _destination(box, addressing, sent_to)
    if box.post_names is not None and request.detail.message_name not in box.post_names:
        expected = " or ".join(sorted(box.post_names))
        raise _input_error(
            f"MessageName {request.detail.message_name!r} is not accepted by {box.name}; "
            f"expected {expected}",
            "/post/Detail/@MessageName",
        )
    sender = _recipient(sim, exchange, request.common.origin, "/post/CommonInput/Origin")
    _check_xades(sim, exchange, box, request)
    effect = _scenario_effect(sim, exchange, box, request, destination)
    # Async MemberData: answered now (or refused, before anything is kept), delivered with
    # the post below.
    members = None
    if memberdata_async.answers(box.name):
        members = memberdata_async.answer(sim, exchange, request)

    reference = uuid.uuid4().hex
    # No TAck, no file: the post, its processing state and its TAck are held back and written
    # together, by the pipeline, once the answer carrying the TAck is produced (after its
    # signature and delay, right before it is sent). A fault or a crash before: nothing kept,
    # so the client's resend is the only copy and nothing is billed twice.
    with sim.records.deferred() as batch:
        boxes.keep_post(sim, box.name, reference, sender, destination, request)
        # eFact: schedule 931000/920098/920900 (hcpfac*), as the scenario wants them
        efact.received(sim, box.name, reference, effect)
        if members is not None:
            memberdata_async.deliver(sim, members, sender)
        tack = codec.TAck(
            content=codec.tack_content(request.detail.content, codec.RESULT_SUCCESS),
            issuer=f"{codec.ISSUER_PREFIX}{destination}",
            applies_to=f"{codec.APPLIES_TO_PREFIX}{request.common.input_reference or reference}",
            result_major=codec.RESULT_SUCCESS,
            id=f"_{reference}",
            reference=reference,
        )
        boxes.keep_tack(sim, box.name, sender, tack)
    exchange.commit_on_answer.append(lambda: sim.records.commit(batch))
    return _answer(codec.build_post_response(tack), "post", addressing)


def _scenario_effect(
    sim: Simulator,
    exchange: Exchange,
    box: boxes.Mailbox,
    request: codec.PostRequest,
    destination: str,
) -> efact.ScenarioEffect | None:
    """Ask the scenario about this post, before anything is stored: a `soap_fault` rule raises
    here; a delay, a withheld answer or a forced eFact code is returned for the processing.

    A `reject` on a mailbox the insurer does not answer (gmd), or with a code outside the
    eFact catalogue, has no place in a flat file: it is raised as a SOAP fault, still before
    anything is stored.
    """
    exchange.message_name = request.detail.message_name
    exchange.insurer = destination  # the IO the file is for: rules may match `insurer:`
    delay = overlay.message_delay(sim, exchange)
    reject = overlay.scenario_rejection(sim, exchange)
    answered_by_file = efact.processes(box.name)
    if reject is not None and (not answered_by_file or reject.catalogue != "efact"):
        raise overlay.rejection_fault(reject)
    if exchange.decision is None or not answered_by_file or (not delay and reject is None):
        return None
    return efact.ScenarioEffect(
        exchange.decision.rule_id,
        delay_seconds=delay,
        reject_code=reject.code if reject is not None else None,
    )


def _destination(box: boxes.Mailbox, addressing: Addressing, sent_to: bool) -> str:
    if box.routes_by_content:
        # Each item names its member; FHC's async MemberData post has no wsa:To at all.
        return addressing.destination_io or MULTICAST
    io = addressing.destination_io
    if addressing.to and io is None:
        raise _input_error(
            f"wsa:To {addressing.to!r} is not of the form urn:nip:destination:io:<code>",
            "/Envelope/Header/To",
        )
    if io is None:
        if box.default_io is None:
            # CONN writes an empty wsa:To when its caller names no mutuality
            # (`WsAddressingUtil.createHeader(null, ...)`, client-quirks #18). MyCareNet routes a
            # post by wsa:To alone (wire-formats 1.10 and 5 "Recipient selection"; the TAck
            # Issuer names that IO); no source shows it reading a destination out of the file,
            # and a sealed blob could not be read. So the post is refused, saying what to send.
            state = "empty" if sent_to else "missing"
            raise _input_error(
                f"wsa:To is {state}: a post to {box.name} is routed by its destination; send "
                f"wsa:To urn:nip:destination:io:<code> naming the insurer (federation) the "
                f"file is for",
                "/Envelope/Header/To",
            )
        return box.default_io
    if box.default_io is not None and io != box.default_io:
        raise _input_error(
            f"{box.name} delivers to IO {box.default_io} only, wsa:To names IO {io}",
            "/Envelope/Header/To",
        )
    return io


def _check_xades(
    sim: Simulator, exchange: Exchange, box: boxes.Mailbox, request: codec.PostRequest
) -> None:
    mode = sim.security_mode
    if mode is SecurityMode.OFF:
        exchange.security["xades"] = "not-checked"
        return
    problem: str | None = None
    if request.xades is None:
        if box.requires_xades:
            problem = f"{box.name} requires a Xades-t signature over the Detail"
    else:
        assert request.detail_element is not None
        try:
            verify_blob(
                request.xades, request.detail_element, ca_cert=sim.pki.ca.cert, now=sim.wire_now()
            )
        except XadesError as error:
            problem = f"Xades-t does not verify: {error}"
    exchange.security["xades"] = problem or ("valid" if request.xades else "absent")
    if problem is not None and mode is SecurityMode.STRICT:
        raise GenAsyncFault(
            "SOA-01001", problem, fault_code="VALIDATION_ERROR", location="/post/Xades-t"
        )


# -- get --------------------------------------------------------------------------------------


async def get(sim: Simulator, exchange: Exchange) -> etree._Element:
    box = _mailbox(exchange)
    try:
        request = codec.parse_get(exchange.payload)
    except PayloadError as error:
        raise _input_error(str(error)) from None
    assert exchange.envelope is not None
    nihii = _recipient(sim, exchange, request.origin, "/get/Origin")
    # eFact: the insurer's answers due on the clock are delivered (off the loop, by the job
    # worker) before the mailbox is read.
    await efact_jobs.answered(sim, box.name, nihii)
    messages: list[codec.MsgResponse] = []
    if request.msg_query.include:
        for stored in boxes.waiting_messages(sim, box.name, nihii):
            if len(messages) >= request.msg_query.max:
                break
            if _selected(stored.document, request):
                messages.append(boxes.message_of(sim, stored, with_content=False))
    tacks: list[codec.TAckResponse] = []
    if request.tack_query.include:
        waiting = boxes.waiting_tacks(sim, box.name, nihii)
        tacks = [boxes.tack_of(stored) for stored in waiting[: request.tack_query.max]]
    answer = codec.build_get_response(codec.GetResponse(tuple(messages), tuple(tacks)))
    return _answer(answer, "get", read_addressing(exchange.envelope))


def _selected(document: dict[str, object], request: codec.GetRequest) -> bool:
    names = request.message_names
    if names and document.get("message_name") not in names:
        return False
    io = document.get("issuer_io")
    if request.include_ios and io not in request.include_ios:
        return False
    return not (request.exclude_ios and io in request.exclude_ios)


# -- confirm ----------------------------------------------------------------------------------


async def confirm(sim: Simulator, exchange: Exchange) -> etree._Element:
    box = _mailbox(exchange)
    try:
        request = codec.parse_confirm(exchange.payload)
    except PayloadError as error:
        raise _input_error(str(error)) from None
    assert exchange.envelope is not None
    nihii = _recipient(sim, exchange, request.origin, "/confirm/Origin")
    boxes.confirm(sim, box.name, nihii, request)
    return _answer(codec.build_confirm_response(), "confirm", read_addressing(exchange.envelope))


# -- faults -----------------------------------------------------------------------------------


def fault_body(
    path: str, fault: faults.SoapFault, operation: str | None, *, sim: Simulator | None = None
) -> bytes | None:
    """The GenAsync rendering of `fault` for a request to a GenAsync path; None elsewhere.

    With `sim`, the answer carries the WS-Security header of every other answer (for faults
    raised before the pipeline, e.g. a broken MTOM package)."""
    if path not in _PATHS:
        return None
    envelope = fault_envelope(fault, operation, None)
    if sim is not None:
        sign_response(
            envelope,
            sim.pki.insurer_signing.key,
            sim.pki.insurer_signing.cert,
            now=sim.wire_now(),
            ttl=RESPONSE_TIMESTAMP_TTL,
            profile=sim.settings.response_security,
        )
    return serialize(envelope)


def fault_envelope(
    fault: faults.SoapFault, operation: str | None, request: Envelope | None = None
) -> etree._Element:
    """A SOAP fault whose detail is `ga:fault`, the element the WSDL declares for every
    operation: any fault on these paths (schema, security, dispatch or our own checks).

    The connector's GenAsync handler checks the answer's wsse:Security (a fresh Timestamp,
    wire-formats 1.9) on faults too: the pipeline secures this envelope like any answer."""
    envelope = etree.Element(f"{{{SOAP11}}}Envelope", nsmap={"soap": SOAP11})
    header = etree.SubElement(envelope, f"{{{SOAP11}}}Header")
    if operation in ANSWER_ACTIONS:
        addressing = read_addressing(request) if request is not None else Addressing()
        for block in response_headers(f"{ACTION}:{operation}:fault", addressing):
            header.append(block)
    body = etree.SubElement(envelope, f"{{{SOAP11}}}Body")
    # A wsse: faultcode is a QName value: its prefix must be declared in scope.
    nsmap = {"wsse": faults.WSSE} if fault.wsse_fault else None
    element = etree.SubElement(body, f"{{{SOAP11}}}Fault", nsmap=nsmap)
    code = f"wsse:{fault.wsse_fault}" if fault.wsse_fault else f"soap:{fault.faultcode}"
    etree.SubElement(element, "faultcode").text = code
    etree.SubElement(element, "faultstring").text = fault.reason
    detail = etree.SubElement(element, "detail")
    fault_code, location = _classify(fault)
    detail.append(
        codec.build_fault(
            codec.Fault(
                code=fault_code,
                source=FAULT_SOURCE,
                message=fault.reason,
                details=(codec.FaultDetail(fault.code, FAULT_SOURCE, location, fault.reason),),
            )
        )
    )
    return envelope


def _classify(fault: faults.SoapFault) -> tuple[str, str | None]:
    if isinstance(fault, GenAsyncFault):
        return fault.fault_code, fault.location
    if fault.code.startswith("SOA-01"):
        return "AUTHORIZATION_ERROR", "/Envelope/Header/Security"
    if fault.code in ("SOA-03006", "SOA-03007"):
        return "VALIDATION_ERROR", None
    if fault.code.startswith("SOA-03"):
        return "INPUT_ERROR", None
    return "GENERIC_ERROR", None


def _operation(name: str, payload: str, action: str, handler: Handler) -> list[Operation]:
    return [
        Operation(
            service="genasync",
            name=name,
            path=box.path,
            payload=payload,
            soap_actions=frozenset({action}),
            handler=handler,
            sign_body=False,  # GenAsync clients sign the Timestamp only (wire-formats 1.9)
            request_schema="genasync-request",
            response_schema="genasync-response",
            render_fault=fault_envelope,
        )
        for box in boxes.MAILBOXES.values()
    ]


OPERATIONS = [
    *_operation("post", codec.POST, POST_ACTION, post),
    *_operation("get", codec.GET, GET_ACTION, get),
    *_operation("confirm", codec.CONFIRM, CONFIRM_ACTION, confirm),
]
