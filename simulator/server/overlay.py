"""The scenario stage: ask the scenario engine about a call and carry out what it decides.

The decision is taken once per exchange, as late as possible and before any side effect:
a service calls `decide` (or `scenario_rejection`) as soon as it has decoded who and what
the call is about, so that a rule can match on the patient or the code and a forced fault
leaves nothing stored; for services that never ask, the pipeline decides after the handler.

What each action becomes:
- `reject`: the service answers with that business error in its own format; a service that
  has no business-error format answers with a SOAP fault carrying the code and its text;
- `soap_fault`, `expired_token` (on a service): raised at once, as the ESB would;
- `expired_token` on the STS: the service issues an already expired token (it asks
  `token_must_be_expired`);
- `delay_message`, `withhold_message`: read by GenAsync post (`message_delay`);
- everything else acts on the answer on its way out (`shape_answer`, `extra_delay`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, TypeVar

from simulator.domain.tarification import RuleError
from simulator.scenarios.engine import CallFacts, Decision
from simulator.scenarios.model import (
    Action,
    ConnectionReset,
    Delay,
    DelayMessage,
    EmptyBody,
    ExpiredToken,
    HttpStatus,
    InvalidSignature,
    MalformedBody,
    MissingSignature,
    Reject,
    SoapFaultAction,
    TruncatedBody,
    WithholdMessage,
)
from simulator.soap import faults

if TYPE_CHECKING:
    from simulator.runtime import Simulator
    from simulator.server.exchange import Exchange

# What `malformed_body` sends: the start of an envelope that never closes.
MALFORMED_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    b"<soapenv:Body><unterminated"
)
A = TypeVar("A")
_SIGNATURE_VALUE = re.compile(rb"(<(?:\w+:)?SignatureValue[^>]*>)(\s*)([A-Za-z0-9+/])")


def decide(sim: Simulator, exchange: Exchange) -> Decision | None:
    """The scenario's decision for this exchange, taken on the first call and kept.

    Raises the SoapFault of a `soap_fault` rule, and of `expired_token` on a service other
    than the STS, so the caller stops before doing anything.
    """
    if not exchange.decided:
        exchange.decided = True
        # No rule, no decision: the call's facts (a population lookup) are not even gathered.
        if sim.scenarios.scenario.rules:
            exchange.decision = sim.scenarios.decide(_facts(sim, exchange))
    decision = exchange.decision
    if decision is None:
        return None
    action = decision.action
    if isinstance(action, SoapFaultAction):
        raise faults.SoapFault(action.code, action.reason, http_status=action.http_status)
    if isinstance(action, ExpiredToken) and not _is_sts(exchange):
        raise faults.unauthenticated(
            f"the SAML assertion has expired (scenario rule {decision.rule_id})",
            "InvalidSecurityToken",
        )
    return decision


def scenario_rejection(sim: Simulator, exchange: Exchange) -> Reject | None:
    """The business rejection a rule forces on this call, if any; the service answers with it."""
    decision = decide(sim, exchange)
    if decision is None or not isinstance(decision.action, Reject):
        return None
    exchange.rejection_answered = True
    return decision.action


def forced_rule_error(sim: Simulator, exchange: Exchange) -> RuleError | None:
    """`scenario_rejection` as the CD-ERROR-MYCARENET error eTar and eAttest answer with."""
    reject = scenario_rejection(sim, exchange)
    if reject is None:
        return None
    return RuleError(reject.code, reject.path or "", reject.text_fr, reject.text_nl)


def token_must_be_expired(sim: Simulator, exchange: Exchange) -> bool:
    """For the STS: whether a rule wants the token it issues to be expired already."""
    decision = decide(sim, exchange)
    return decision is not None and isinstance(decision.action, ExpiredToken)


def message_delay(sim: Simulator, exchange: Exchange) -> float:
    """For GenAsync post: extra seconds before the answers are delivered; inf = never."""
    decision = decide(sim, exchange)
    if decision is None:
        return 0.0
    action = decision.action
    if isinstance(action, DelayMessage):
        return action.seconds
    if isinstance(action, WithholdMessage):
        return float("inf")
    return 0.0


def unanswered_rejection(exchange: Exchange) -> faults.SoapFault | None:
    """A `reject` the service could not put in its own answer, as a SOAP fault."""
    decision = exchange.decision
    if decision is None or exchange.rejection_answered:
        return None
    action = decision.action
    if not isinstance(action, Reject):
        return None
    return rejection_fault(action)


def rejection_fault(reject: Reject) -> faults.SoapFault:
    """A forced rejection as a SOAP fault carrying its code, where no business format fits:
    the catalogue's FR/NL texts, and an English reason under xml:lang="en"."""
    reason = f"{reject.catalogue} code {reject.code} forced by the running scenario"
    return faults.SoapFault(
        reject.code, reason, http_status=500, texts=(reject.text_fr, reject.text_nl)
    )


def skips_signature(exchange: Exchange) -> bool:
    return _action(exchange, MissingSignature) is not None


def shape_answer(exchange: Exchange) -> None:
    """Turn the answer into what the rule wants on the wire (body and status)."""
    action = exchange.decision.action if exchange.decision else None
    if isinstance(action, InvalidSignature):
        exchange.response = _corrupt_signature(exchange.response)
    elif isinstance(action, HttpStatus):
        exchange.response = action.body.encode("utf-8")
        exchange.http_status = action.status
        exchange.content_type = "text/plain"
    elif isinstance(action, EmptyBody):
        exchange.response = b""
        exchange.http_status = 200
    elif isinstance(action, TruncatedBody):
        exchange.response = exchange.response[: int(len(exchange.response) * action.keep)]
    elif isinstance(action, MalformedBody):
        exchange.response = MALFORMED_BODY
        exchange.http_status = 200
    elif isinstance(action, ConnectionReset):
        exchange.reset_connection = True


def extra_delay(exchange: Exchange) -> float:
    """Seconds a `delay` rule adds to the endpoint's latency."""
    action = _action(exchange, Delay)
    return action.seconds if action is not None else 0.0


def describe(decision: Decision) -> str:
    """How the journal names a decision: the rule and its action type."""
    return f"{decision.rule_id}: {action_type(decision.action)}"


def action_type(action: Action) -> str:
    from simulator.scenarios.model import ACTION_TYPES

    return next(name for name, kind in ACTION_TYPES.items() if isinstance(action, kind))


def _action(exchange: Exchange, kind: type[A]) -> A | None:
    decision = exchange.decision
    if decision is not None and isinstance(decision.action, kind):
        return decision.action
    return None


def _facts(sim: Simulator, exchange: Exchange) -> CallFacts:
    operation = exchange.operation
    if operation is None:
        raise RuntimeError("the scenario stage needs the dispatch stage")
    patient_ssin = exchange.patient_ssin
    insurer = exchange.insurer
    if insurer is None and patient_ssin:
        patient = sim.population.find(patient_ssin)
        insurer = patient.insurer if patient is not None else None
    return CallFacts(
        service=operation.service,
        operation=operation.name,
        provider_nihii=exchange.provider_nihii or exchange.caller.nihii,
        patient_ssin=patient_ssin,
        codes=exchange.codes,
        insurer=insurer,
        message_name=exchange.message_name,
        at=sim.clock.now(),
    )


def _is_sts(exchange: Exchange) -> bool:
    return exchange.operation is not None and exchange.operation.service == "sts"


def _corrupt_signature(body: bytes) -> bytes:
    """Flip the first character of the first SignatureValue: still base64, no longer valid."""

    def flip(match: re.Match[bytes]) -> bytes:
        first = match.group(3)
        return match.group(1) + match.group(2) + (b"B" if first == b"A" else b"A")

    return _SIGNATURE_VALUE.sub(flip, body, count=1)
