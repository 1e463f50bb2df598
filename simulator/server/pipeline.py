"""The request pipeline: parse -> envelope -> dispatch -> validate -> security -> handle ->
scenario -> sign -> delay.

Each stage is a small function over the `Exchange`; a `SoapFault` raised by any of them
becomes the answer. The running scenario (server/overlay.py) may force a rejection or a
fault, bend the answer on its way out, and sets how long the answer waits. Whatever
happens, the exchange is journaled.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import logging
import time
from typing import Any

from cryptography import x509

from simulator.config import SecurityMode
from simulator.runtime import RESPONSE_TIMESTAMP_TTL, Simulator
from simulator.scenarios.model import (
    ConnectionReset,
    EmptyBody,
    HttpStatus,
    MalformedBody,
    TruncatedBody,
)
from simulator.security import replay
from simulator.security.by_identity import cache_by_identity
from simulator.security.wssecurity import (
    SecurityError,
    response_profile_for,
    sign_response,
    verify_request,
)
from simulator.server import overlay
from simulator.server.exchange import Caller, Exchange, processing
from simulator.server.journal_facts import content_text, reference_of
from simulator.services.registry import TokenProfile
from simulator.soap import faults
from simulator.soap.envelope import read_envelope, serialize
from simulator.soap.parser import XmlRejected, parse_xml
from simulator.store.base import JournalBodies, JournalEntry
from simulator.store.body_codec import MAX_STORED_BODY

log = logging.getLogger(__name__)

# Attribute names the eHealth STS certifies (wire-formats 1.9).
SSIN_ATTRIBUTES = (
    "urn:be:fgov:ehealth:1.0:certificateholder:person:ssin",
    "urn:be:fgov:person:ssin",
)
NIHII_SUFFIX = ":nihii11"
ORG_NIHII = ":nihii-number"  # urn:be:fgov:ehealth:1.0:[certificateholder:]<org>:nihii-number
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"


async def process(sim: Simulator, exchange: Exchange) -> None:
    """Run every stage; leaves the answer in `exchange.response` / `exchange.http_status`."""
    reference: str | None = None
    large = len(exchange.body) >= LARGE_BODY
    try:
        try:
            with processing(exchange):  # sealed_content keeps the clear content on it
                await _run_stages(sim, exchange)
        except faults.SoapFault as fault:
            _answer_fault(sim, exchange, fault)
        except Exception:  # a bug of ours must still give the client a proper SOAP fault
            log.exception("unhandled error while processing %s", exchange.path)
            _answer_fault(
                sim, exchange, faults.internal("the simulator failed to process the request")
            )
        overlay.shape_answer(exchange)
        # The request's tree (its text nodes hold the whole body again) is not needed past
        # this point: let it go before the answer waits out its latency.
        reference = reference_of(exchange)
        exchange.envelope = None
        await _delay(sim, exchange)
        _commit(sim, exchange)
    finally:
        if exchange.envelope is not None:
            reference = reference_of(exchange)
        _journal(sim, exchange, reference)
        if large:
            _give_back_memory()


# Scenario actions after which the client cannot read the answer the service produced.
_UNREADABLE = (EmptyBody, MalformedBody, TruncatedBody, HttpStatus, ConnectionReset)


def _commit(sim: Simulator, exchange: Exchange) -> None:
    """Write what the service held back until its answer was produced (a GenAsync post's
    file and TAck), right before the answer is sent; only if the client gets that answer."""
    hooks, exchange.commit_on_answer = exchange.commit_on_answer, []
    if not hooks or exchange.fault is not None:
        return
    decision = exchange.decision
    if exchange.reset_connection or (
        decision is not None and isinstance(decision.action, _UNREADABLE)
    ):
        return
    since = time.perf_counter()
    try:
        for hook in hooks:
            hook()
    except Exception:
        log.exception("could not store what %s answered", exchange.path)
        exchange.decision = None  # the scenario's shaping was for the lost answer
        _answer_fault(
            sim, exchange, faults.SoapFault("SOA-02001", "the service could not store the message")
        )
        return
    exchange.note("commit", since)


async def _run_stages(sim: Simulator, exchange: Exchange) -> None:
    t = exchange.started
    try:
        root = parse_xml(exchange.body)
    except XmlRejected as rejected:
        where = f" (line {rejected.line})" if rejected.line else ""
        raise faults.malformed(f"{rejected.reason}{where}") from None
    # Parsed: from now on the body is only the journal's, which keeps MAX_STORED_BODY of it.
    exchange.body = _journal_prefix(sim, exchange.body)
    t = exchange.note("parse", t)

    envelope = read_envelope(root)
    exchange.envelope = envelope
    t = exchange.note("envelope", t)

    operation = sim.registry.resolve(exchange.path, exchange.soap_action, envelope.payload)
    exchange.operation = operation
    t = exchange.note("dispatch", t, f"{operation.service}.{operation.name}")

    _validate(sim, exchange)
    t = exchange.note("validate", t)

    _verify_security(sim, exchange)
    await _check_replay(sim, exchange)
    t = exchange.note("security", t, exchange.security.get("verdict", ""))

    answer = await operation.handler(sim, exchange)
    t = exchange.note("handle", t, exchange.business_code or "")

    decision = overlay.decide(sim, exchange)  # if the service did not ask already
    unanswered = overlay.unanswered_rejection(exchange)
    if unanswered is not None:
        raise unanswered
    if decision is not None:
        t = exchange.note("scenario", t, overlay.describe(decision))

    response_root = answer.getroottree().getroot()
    _secure(sim, exchange, response_root)
    exchange.response = serialize(response_root)
    exchange.http_status = 200
    exchange.note("sign", t)


async def _delay(sim: Simulator, exchange: Exchange) -> None:
    """Hold the answer for the endpoint's latency (drawn per call) plus a `delay` rule's."""
    operation = exchange.operation
    if operation is None:
        return
    seconds = sim.scenarios.delay_for(operation.service, operation.name)
    seconds += overlay.extra_delay(exchange)
    if seconds > 0:
        since = time.perf_counter()
        await asyncio.sleep(seconds)
        exchange.note("delay", since, f"{seconds * 1000:.1f} ms")


def _validate(sim: Simulator, exchange: Exchange) -> None:
    envelope = exchange.envelope
    operation = exchange.operation
    assert envelope is not None and operation is not None
    violation = sim.schemas.validate_request(envelope.root, operation.request_schema)
    if violation is None and sim.official_schemas is not None:
        violation = sim.official_schemas.validate(envelope.payload)
    if violation is not None:
        raise faults.not_xsd_conform(violation.describe())


def _verify_security(sim: Simulator, exchange: Exchange) -> None:
    operation = exchange.operation
    envelope = exchange.envelope
    assert operation is not None and envelope is not None
    mode = sim.security_mode
    exchange.security = {"mode": str(mode)}
    if operation.token is TokenProfile.NONE or mode is SecurityMode.OFF:
        exchange.security["verdict"] = "not-checked"
        return
    try:
        verdict = verify_request(
            envelope.root,
            ca_cert=sim.pki.trusted_roots,  # the eHealth test CA and the simulated eID CA
            sts_cert=sim.pki.sts.cert,
            now=sim.wire_now(),
            require=str(operation.token),
            body_must_be_signed=operation.sign_body,
            cache=sim.assertion_cache,
        )
    except SecurityError as error:
        exchange.security.update(verdict="rejected", fault=error.fault, reason=error.reason)
        if mode is SecurityMode.STRICT:
            raise faults.unauthenticated(error.reason, error.fault) from None
        return
    exchange.security["verdict"] = "valid"
    exchange.security["token"] = verdict.token_type
    exchange.caller = _caller_of(verdict)
    exchange.security["caller"] = {"ssin": exchange.caller.ssin, "nihii": exchange.caller.nihii}


async def _check_replay(sim: Simulator, exchange: Exchange) -> None:
    """After a valid signature: the Timestamp's lifetime, then a replay (security/replay.py).
    A scenario with `allow_replay: true` (load tests) skips the replay check only.

    On PostgreSQL the replay check is a round trip to another process: made in a thread, so
    that the worker's event loop serves other requests meanwhile (waiting on a store round
    trip there left a worker idle half the time under load, loadtests/bench_workers.py)."""
    if exchange.security.get("verdict") != "valid":
        return
    assert exchange.envelope is not None
    allowed = sim.scenarios.scenario.allow_replay
    first_seen = None if allowed else sim.store.first_seen
    check = functools.partial(
        replay.check_fresh,
        exchange.envelope.root,
        caller=exchange.caller.subject,
        first_seen=first_seen,
    )
    try:
        if first_seen is not None and sim.store_kind == "postgresql":
            await asyncio.to_thread(check)
        else:
            check()
    except SecurityError as error:
        exchange.security.update(verdict="rejected", fault=error.fault, reason=error.reason)
        if sim.security_mode is SecurityMode.STRICT:
            raise faults.unauthenticated(error.reason, error.fault) from None


def _caller_of(verdict: Any) -> Caller:
    subject = _subject_of(verdict.signer_cert)
    if verdict.assertion is None:
        return Caller(subject=subject, certificate=verdict.signer_cert)
    attributes: dict[str, tuple[str, ...]] = dict(verdict.assertion.attributes)
    ssin = next((attributes[a][0] for a in SSIN_ATTRIBUTES if attributes.get(a)), None)
    nihii = next(
        (v[0] for name, v in attributes.items() if name.endswith(NIHII_SUFFIX) and v), None
    ) or next(  # an organisation token may carry only <org>:nihii-number (8 digits, or 11)
        (v[0].ljust(11, "0") for name, v in attributes.items() if name.endswith(ORG_NIHII) and v),
        None,
    )
    return Caller(
        ssin=ssin,
        nihii=nihii,
        subject=subject,
        certificate=verdict.signer_cert,
        attributes=attributes,
    )


@cache_by_identity(maxsize=1024)  # hashing a certificate re-reads it: ~13 µs a call
def _subject_of(cert: x509.Certificate) -> str:
    try:
        return cert.subject.rfc4514_string()
    except ValueError:  # undecodable subject DER: the service refuses it with its own fault
        return f"serial {cert.serial_number:x} (unreadable subject)"


def _secure(sim: Simulator, exchange: Exchange, response_root: Any) -> None:
    """The answer's wsse:Security, in the profile the client's stack can read."""
    if overlay.skips_signature(exchange):
        return
    operation = exchange.operation
    # The STS answers with its own key (both its WS-Trust and its SAML-P doors); every
    # MyCareNet service with the insurer's.
    sts = operation is not None and operation.service == "sts"
    issuer = sim.pki.sts if sts else sim.pki.insurer_signing
    request = exchange.envelope.root if exchange.envelope is not None else None
    profile = response_profile_for(request, sim.settings.response_security)
    exchange.security["response"] = str(profile)
    sign_response(
        response_root,
        issuer.key,
        issuer.cert,
        now=sim.wire_now(),
        ttl=RESPONSE_TIMESTAMP_TTL,
        profile=profile,
    )


def _answer_fault(sim: Simulator, exchange: Exchange, fault: faults.SoapFault) -> None:
    if exchange.decision is not None:
        exchange.note("scenario", time.perf_counter(), overlay.describe(exchange.decision))
    # A service with its own fault (GenAsync's ga:fault) answers it secured like its other
    # answers; the journal then keeps what went on the wire. Elsewhere: the ESB's fault.
    operation = exchange.operation.name if exchange.operation else None
    rendered = sim.registry.fault_envelope(exchange.path, fault, operation, exchange.envelope)
    if rendered is not None:
        _secure(sim, exchange, rendered)
        exchange.response = serialize(rendered)
    else:
        exchange.response = serialize(faults.fault_envelope(fault))
    exchange.http_status = fault.http_status
    exchange.business_code = fault.code
    exchange.security.setdefault("verdict", "not-reached")
    exchange.note("fault", time.perf_counter(), fault.code)
    exchange.fault = fault


# After a request this large, what it used is handed back to the system: glibc keeps freed
# heap memory (its mmap threshold rises after big frees), so without it the RSS stays at the
# high-water mark of the largest bodies ever received.
LARGE_BODY = 4 * 1024 * 1024


def _give_back_memory() -> None:
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Any:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to hand back
        return None


def _journal_prefix(sim: Simulator, body: bytes) -> bytes:
    if sim.store.journal_policy.bodies is JournalBodies.NONE:
        return b""
    return body if len(body) <= MAX_STORED_BODY else body[:MAX_STORED_BODY]


def _journal(sim: Simulator, exchange: Exchange, reference: str | None) -> None:
    operation = exchange.operation
    fault = exchange.fault
    if fault is not None:
        outcome = "fault"
    elif exchange.business_code:
        outcome = "business-error"
    else:
        outcome = "ok"
    # Bodies only as the journal policy keeps them, cut at the store's limit without copying
    # the whole body first; the store masks passwords and compresses in its writer thread.
    keep = sim.store.journal_policy.keeps_bodies(outcome)
    entry = JournalEntry(
        at=exchange.received_at.isoformat(),
        service=operation.service if operation else "unknown",
        operation=operation.name if operation else "unknown",
        path=exchange.path,
        soap_action=exchange.soap_action,
        outcome=outcome,
        code=exchange.business_code,
        http_status=exchange.http_status,
        duration_ms=round((time.perf_counter() - exchange.started) * 1000, 3),
        provider_nihii=exchange.provider_nihii or exchange.caller.nihii,
        patient_ssin=exchange.patient_ssin,
        security=exchange.security,
        stages=[{"name": s.name, "ms": s.ms, "note": s.note} for s in exchange.stages],
        request=_journal_text(exchange.body) if keep else "",
        response=_journal_text(exchange.response) if keep else "",
        request_content=content_text(exchange.request_content) if keep else "",
        response_content=content_text(exchange.response_content) if keep else "",
        reference=reference,
    )
    sim.store.record(entry)
    sim.metrics.observe(entry)


def _journal_text(data: bytes) -> str:
    return str(memoryview(data)[:MAX_STORED_BODY], "utf-8", "replace")
