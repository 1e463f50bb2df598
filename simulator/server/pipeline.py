"""The request pipeline: parse -> envelope -> dispatch -> validate -> security -> handle ->
scenario -> sign -> delay.

Each stage is a small function over the `Exchange`; a `SoapFault` raised by any of them
becomes the answer. The running scenario (server/overlay.py) may force a rejection or a
fault, bend the answer on its way out, and sets how long the answer waits. Whatever
happens, the exchange is journaled.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from cryptography import x509

from simulator.config import SecurityMode
from simulator.runtime import RESPONSE_TIMESTAMP_TTL, Simulator
from simulator.security.by_identity import cache_by_identity
from simulator.security.wssecurity import SecurityError, sign_response, verify_request
from simulator.server import overlay
from simulator.server.exchange import Caller, Exchange
from simulator.services.registry import TokenProfile
from simulator.soap import faults
from simulator.soap.envelope import read_envelope, serialize
from simulator.soap.parser import XmlRejected, parse_xml
from simulator.store.base import JournalEntry

log = logging.getLogger(__name__)

# Attribute names the eHealth STS certifies (wire-formats 1.9).
SSIN_ATTRIBUTES = (
    "urn:be:fgov:ehealth:1.0:certificateholder:person:ssin",
    "urn:be:fgov:person:ssin",
)
NIHII_SUFFIX = ":nihii11"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"


async def process(sim: Simulator, exchange: Exchange) -> None:
    """Run every stage; leaves the answer in `exchange.response` / `exchange.http_status`."""
    try:
        try:
            await _run_stages(sim, exchange)
        except faults.SoapFault as fault:
            _answer_fault(exchange, fault)
        except Exception:  # a bug of ours must still give the client a proper SOAP fault
            log.exception("unhandled error while processing %s", exchange.path)
            _answer_fault(exchange, faults.internal("the simulator failed to process the request"))
        overlay.shape_answer(exchange)
        await _delay(sim, exchange)
    finally:
        _journal(sim, exchange)


async def _run_stages(sim: Simulator, exchange: Exchange) -> None:
    t = exchange.started
    try:
        root = parse_xml(exchange.body)
    except XmlRejected as rejected:
        where = f" (line {rejected.line})" if rejected.line else ""
        raise faults.malformed(f"{rejected.reason}{where}") from None
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
    if not overlay.skips_signature(exchange):
        issuer = sim.pki.sts if operation.token is TokenProfile.X509 else sim.pki.insurer_signing
        sign_response(
            response_root, issuer.key, issuer.cert, now=sim.clock.now(), ttl=RESPONSE_TIMESTAMP_TTL
        )
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
            ca_cert=sim.pki.ca.cert,
            sts_cert=sim.pki.sts.cert,
            now=sim.clock.now(),
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


def _caller_of(verdict: Any) -> Caller:
    subject = _subject_of(verdict.signer_cert)
    if verdict.assertion is None:
        return Caller(subject=subject, certificate=verdict.signer_cert)
    attributes: dict[str, tuple[str, ...]] = dict(verdict.assertion.attributes)
    ssin = next((attributes[a][0] for a in SSIN_ATTRIBUTES if attributes.get(a)), None)
    nihii = next(
        (v[0] for name, v in attributes.items() if name.endswith(NIHII_SUFFIX) and v), None
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
    return cert.subject.rfc4514_string()


def _answer_fault(exchange: Exchange, fault: faults.SoapFault) -> None:
    if exchange.decision is not None:
        exchange.note("scenario", time.perf_counter(), overlay.describe(exchange.decision))
    exchange.response = serialize(faults.fault_envelope(fault))
    exchange.http_status = fault.http_status
    exchange.business_code = fault.code
    exchange.security.setdefault("verdict", "not-reached")
    exchange.note("fault", time.perf_counter(), fault.code)
    exchange.fault = fault


def _journal(sim: Simulator, exchange: Exchange) -> None:
    operation = exchange.operation
    fault = exchange.fault
    if fault is not None:
        outcome = "fault"
    elif exchange.business_code:
        outcome = "business-error"
    else:
        outcome = "ok"
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
        request=exchange.body.decode("utf-8", errors="replace"),
        response=exchange.response.decode("utf-8", errors="replace"),
    )
    sim.store.record(entry)
    sim.metrics.observe(entry)
