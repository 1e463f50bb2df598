"""Who an operation acts for: the NIHII the verified token certifies, never the request's own.

A provider's mailbox, its posts and its attestations belong to the NIHII the eHealth STS put in
the SAML token (`exchange.caller.nihii`, read comment-proof from the signed assertion). The
NIHII a request writes (Origin/CareProvider, an Author block) is a claim: it may repeat the
token's, never replace it. Without a verified token (security `off`, or `lenient` answering a
request whose token failed) the claim is all there is, and it is used as such.
"""

from __future__ import annotations

from simulator.server.exchange import Exchange
from simulator.soap import faults


class NotTheCaller(Exception):
    """The request acts for a NIHII its token does not certify; `reason` says which."""

    def __init__(self, reason: str, *, claimed: str | None, certified: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.claimed = claimed
        self.certified = certified


def token_verified(exchange: Exchange) -> bool:
    return exchange.security.get("verdict") == "valid"


def certified_nihii(exchange: Exchange) -> str | None:
    """The NIHII of a verified token; None without one. Raises NotTheCaller for a verified
    token that certifies none (it may not act for any provider)."""
    if not token_verified(exchange):
        return None
    nihii = exchange.caller.nihii
    if not nihii:
        raise NotTheCaller(
            "the SAML token certifies no NIHII: it cannot act for a care provider",
            claimed=None,
            certified=None,
        )
    return nihii


def acting_nihii(exchange: Exchange, claimed: str | None, where: str) -> str | None:
    """The NIHII the operation acts for: the token's, which `claimed` (read at `where`) must
    not contradict; the claim itself only when no token was verified."""
    certified = certified_nihii(exchange)
    if certified is None:
        return claimed or None
    if claimed and claimed != certified:
        raise NotTheCaller(
            f"{where} names NIHII {claimed} but the SAML token was issued to NIHII {certified}",
            claimed=claimed,
            certified=certified,
        )
    return certified


def check_care_provider(exchange: Exchange, claimed: str | None, where: str) -> str | None:
    """MyCareNet commons (eTar, eAttest, MemberData): the CommonInput's CareProvider must be
    the token's holder. Returns the certified NIHII (None without a verified token, or for a
    verified token that certifies none: those services then keep their own author checks).

    A contradiction gets the ESB's "no access" (SOA-01002, GenIns catalogue; wire-formats
    1.11), as GenAsync answers a foreign Origin.
    """
    if not token_verified(exchange) or not exchange.caller.nihii:
        return None
    try:
        return acting_nihii(exchange, claimed, where)
    except NotTheCaller as refusal:
        raise faults.SoapFault("SOA-01002", refusal.reason) from None
