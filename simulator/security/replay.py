"""Replay detection and the maximum Timestamp lifetime, after the WS-Security verification.

What the ESB does (its WS-Security stack is WSS4J, like the connector's; wire-formats 1.9):
* a message whose wsu:Timestamp lives longer than MAX_TIMESTAMP_LIFETIME (Expires - Created)
  is refused as expired, like WSS4J's `timeToLive` (300 s by default). Clients sign with
  60 s (connector), 30 s (FHC), 1 min (KH) or 5 min (eHI) (wire-formats 1.9, client-quirks);
* a message seen before, while its Timestamp is still acceptable, is refused as a replay: the
  same ds:SignatureValue (a resent envelope), or the same wsa:MessageID from the same caller
  (a re-signed resend, wire-formats 1.10). WSS4J answers `wsse:InvalidSecurity` "A replay
  attack has been detected".
Neither the wire formats nor the error catalogues name a replay code of their own: the ESB's
generic authentication fault SOA-01001 (wire-formats 1.11; GenInsErrors.json uid 24) carries
the WS-Security faultcode, as for every other WS-Security refusal here.

Identities are remembered until Expires + CLOCK_SKEW (after that the Timestamp check refuses
the message anyway) through `Store.first_seen`, so that several workers sharing a store see
one another's messages. Both clocks are wire time (real time), never the business clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from lxml import etree

from simulator.security.wssecurity import CLOCK_SKEW, WSSE, SecurityError
from simulator.security.xmldsig import DS, WSU

MAX_TIMESTAMP_LIFETIME = timedelta(minutes=5)
WSA = "http://www.w3.org/2005/08/addressing"

_SECURITY = f"{{{WSSE}}}Security"
_TIMESTAMP = f"{{{WSU}}}Timestamp"
_SIGNATURE_VALUE = f"{{{DS}}}Signature/{{{DS}}}SignatureValue"

FirstSeen = Callable[[Iterable[bytes], float], bool]


def check_fresh(
    root: etree._Element,
    *,
    caller: str | None,
    first_seen: FirstSeen | None,
    max_lifetime: timedelta = MAX_TIMESTAMP_LIFETIME,
) -> None:
    """Refuse (SecurityError) a Timestamp that lives too long, then a replay; `first_seen`
    None skips the replay check (a scenario that allows replays, for load tests).

    `root` is an envelope `verify_request` accepted: one wsse:Security with one Timestamp
    and one Signature covering it."""
    security = _security(root)
    timestamp = security.find(_TIMESTAMP)
    if timestamp is None:
        raise SecurityError("InvalidSecurity", "wsse:Security has no wsu:Timestamp")
    created = _instant(timestamp.findtext(f"{{{WSU}}}Created"))
    expires = _instant(timestamp.findtext(f"{{{WSU}}}Expires"))
    lifetime = expires - created
    if lifetime > max_lifetime:
        raise SecurityError(
            "MessageExpired",
            f"the wsu:Timestamp lives {lifetime.total_seconds():g} s (Created {created}, "
            f"Expires {expires}); at most {max_lifetime.total_seconds():g} s is accepted",
        )
    if first_seen is None:
        return
    keys = message_keys(root, security, caller)
    until = (expires + CLOCK_SKEW).timestamp()
    if not first_seen(keys, until):
        raise SecurityError(
            "InvalidSecurity",
            "A replay attack has been detected: this message (its signature value or its "
            "wsa:MessageID) was already received while its wsu:Timestamp is still valid; "
            "send a new message with a fresh Timestamp, signature and MessageID",
        )


def message_keys(
    root: etree._Element, security: etree._Element | None = None, caller: str | None = None
) -> list[bytes]:
    """What identifies a message: its signature value, and its MessageID for this caller."""
    security = security if security is not None else _security(root)
    keys: list[bytes] = []
    value = security.findtext(_SIGNATURE_VALUE)
    if value:
        keys.append(b"sig:" + "".join(value.split()).encode("ascii", errors="replace"))
    header = root.find("{*}Header")
    message_id = header.findtext(f"{{{WSA}}}MessageID") if header is not None else None
    if message_id and message_id.strip():
        keys.append(f"mid:{caller or ''}:{message_id.strip()}".encode())
    return keys


def _security(root: etree._Element) -> etree._Element:
    header = root.find("{*}Header")
    security = header.find(_SECURITY) if header is not None else None
    if security is None:
        raise SecurityError("InvalidSecurity", "no wsse:Security header")
    return security


def _instant(text: str | None) -> datetime:
    try:
        value = datetime.fromisoformat((text or "").strip().replace("Z", "+00:00"))
    except ValueError:
        raise SecurityError("InvalidSecurity", f"wsu:Timestamp value {text!r}") from None
    if value.tzinfo is None:
        raise SecurityError("InvalidSecurity", f"wsu:Timestamp value {text!r} has no time zone")
    return value
