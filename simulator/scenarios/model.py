"""What a scenario says, as plain frozen values: rules (match -> action, within limits).

Nothing here reads YAML or touches HTTP: the loader builds these values, the engine applies
them, and the server (later) turns an Action into what goes on the wire.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from simulator.scenarios.latency import LatencyTable


@dataclass(frozen=True)
class ValueMatch:
    """One criterion: the fact equals one of `values`, or `pattern` matches it (full match)."""

    values: frozenset[str] = frozenset()
    pattern: re.Pattern[str] | None = None

    def accepts(self, fact: str | None) -> bool:
        if fact is None:
            return False
        if fact in self.values:
            return True
        return self.pattern is not None and self.pattern.fullmatch(fact) is not None


@dataclass(frozen=True)
class Match:
    """Every criterion given must hold; an absent criterion accepts anything."""

    service: ValueMatch | None = None
    operation: ValueMatch | None = None
    provider_nihii: ValueMatch | None = None
    patient_ssin: ValueMatch | None = None
    # Nomenclature codes, 6 digits (a 7-digit eFact code with its leading 0 is the same code).
    code: ValueMatch | None = None
    # A mutuality or a national union (300 also matches the mutualities 301..399).
    insurer: ValueMatch | None = None
    message_name: ValueMatch | None = None
    nth: int | None = None  # fire only on the n-th call that meets the criteria above (1-based)
    probability: float | None = None  # fire with this chance, drawn from a seeded generator
    seed: int | str | None = None  # overrides the engine's seed for this rule's draws


@dataclass(frozen=True)
class Limit:
    """How long a rule stays armed: a number of firings and/or a window of simulated time."""

    count: int | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    # Seconds of simulated time from the moment the engine was created (scenario loaded).
    within_seconds: float | None = None


# --- actions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reject:
    """A business rejection from an error catalogue, with the texts the real service sends."""

    catalogue: str
    code: str
    path: str | None
    text_fr: str
    text_nl: str


@dataclass(frozen=True)
class SoapFaultAction:
    """An ESB SOAP fault (SOA-xxxxx) with its catalogue texts."""

    code: str
    reason: str
    text_fr: str
    text_nl: str
    http_status: int = 500


@dataclass(frozen=True)
class HttpStatus:
    status: int
    body: str = ""


@dataclass(frozen=True)
class ConnectionReset:
    """Close the connection without an answer."""


@dataclass(frozen=True)
class EmptyBody:
    """200 with nothing in the body."""


@dataclass(frozen=True)
class TruncatedBody:
    """The normal answer cut after `keep` (a fraction of its length, 0 < keep < 1)."""

    keep: float = 0.5


@dataclass(frozen=True)
class MalformedBody:
    """Bytes that are not well-formed XML."""


@dataclass(frozen=True)
class InvalidSignature:
    """The normal answer with a signature that does not verify."""


@dataclass(frozen=True)
class MissingSignature:
    """The normal answer without its signature."""


@dataclass(frozen=True)
class ExpiredToken:
    """The STS issues a token that has already expired; a service treats the caller's as expired."""


@dataclass(frozen=True)
class Delay:
    """Answer normally after `seconds` (on top of the latency model)."""

    seconds: float


@dataclass(frozen=True)
class DelayMessage:
    """An eFact (GenAsync) message reaches the mailbox `seconds` later than it would."""

    seconds: float


@dataclass(frozen=True)
class WithholdMessage:
    """An eFact (GenAsync) message never reaches the mailbox."""


Action = (
    Reject
    | SoapFaultAction
    | HttpStatus
    | ConnectionReset
    | EmptyBody
    | TruncatedBody
    | MalformedBody
    | InvalidSignature
    | MissingSignature
    | ExpiredToken
    | Delay
    | DelayMessage
    | WithholdMessage
)

# The `type:` each action has in a scenario file.
ACTION_TYPES: dict[str, type[Action]] = {
    "reject": Reject,
    "soap_fault": SoapFaultAction,
    "http_status": HttpStatus,
    "connection_reset": ConnectionReset,
    "empty_body": EmptyBody,
    "truncated_body": TruncatedBody,
    "malformed_body": MalformedBody,
    "invalid_signature": InvalidSignature,
    "missing_signature": MissingSignature,
    "expired_token": ExpiredToken,
    "delay": Delay,
    "delay_message": DelayMessage,
    "withhold_message": WithholdMessage,
}


@dataclass(frozen=True)
class Rule:
    id: str
    match: Match
    action: Action
    limit: Limit = Limit()
    description: str = ""
    line: int = 0  # where the rule starts in its file, for messages and the journal


# eFact services older than two months (docs/rules.md "eFact"): an administrative fine, or
# a rejection for an insurer that refuses them.
TWO_MONTH_RULES = ("fine", "reject")


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str = ""
    rules: tuple[Rule, ...] = ()
    latency: LatencyTable = field(default_factory=LatencyTable)
    # Accept a signed message again while its Timestamp is valid (load tests that replay
    # pre-signed requests); by default a replay is refused as the ESB does (security/replay.py).
    allow_replay: bool = False
    # eFact services older than two months: "fine" (S-FAQ-INAMI: an administrative fine, the
    # file is accepted and the 920098/920900 annotate E500503) or "reject" (R500503) for an
    # insurer that refuses them (docs/rules.md "eFact").
    efact_two_month_rule: str = "fine"
