"""SignChallenges sent and not answered yet, kept in the store's records.

With `serve --workers N` the client's Challenge may reach another worker than the one that
sent the SignChallenge (a new connection lands wherever the kernel puts it): the pending
challenge and what it grants are therefore in the shared records, not in one process.

A challenge begins with its expiry (seconds since the epoch, fixed width) so that the records'
key order is expiry order: each `open` drops the expired ones from the front. Keyed by the
challenge itself, because e-Contract answers without the Context.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from simulator.domain.sts import CHALLENGE_TTL, ChallengeRefused
from simulator.security.saml import SamlAttribute
from simulator.store.records import Records

KIND = "sts-challenge"
PRUNE_BATCH = 64  # expired challenges dropped per `open`, oldest first


@dataclass(frozen=True)
class Grant:
    """A token decided on: who holds its key and what it certifies."""

    holder_cert: x509.Certificate
    attributes: tuple[SamlAttribute, ...]
    nihii: str | None  # for the journal


class PendingChallenges:
    def __init__(self, records: Records, ttl: timedelta = CHALLENGE_TTL) -> None:
        self._records = records
        self._ttl = ttl

    def open(self, grant: Grant, *, context: str | None, now: datetime) -> str:
        """A new unguessable challenge that `peek` exchanges for `grant` until it expires."""
        self._prune(now)
        expires = now + self._ttl
        challenge = f"{int(expires.timestamp()):011d}-{secrets.token_urlsafe(32)}"
        self._records.put(KIND, challenge, _dump(grant, context, expires))
        return challenge

    def peek(self, challenge: str, *, context: str | None, now: datetime) -> Grant:
        """The grant of a pending challenge; `ChallengeRefused` says why there is none."""
        document = self._records.get(KIND, challenge)
        if document is None or datetime.fromisoformat(document["expires"]) <= now:
            raise ChallengeRefused(
                "unknown or expired wst:Challenge: answer the SignChallenge within "
                f"{int(self._ttl.total_seconds())} s, once"
            )
        expected = document.get("context")
        if context and expected and context != expected:
            raise ChallengeRefused(
                f"Context {context!r} does not match the challenge's {expected!r}"
            )
        return _load(document)

    def close(self, challenge: str) -> bool:
        """Use the challenge up; False when another worker did first (the delete decides)."""
        return self._records.delete(KIND, challenge)

    def _prune(self, now: datetime) -> None:
        for key, document in self._records.find(KIND, limit=PRUNE_BATCH):
            if datetime.fromisoformat(document["expires"]) > now:
                return
            self._records.delete(KIND, key)


def _dump(grant: Grant, context: str | None, expires: datetime) -> dict[str, Any]:
    return {
        "holder": base64.b64encode(grant.holder_cert.public_bytes(Encoding.DER)).decode(),
        "attributes": [[a.name, a.namespace, list(a.values)] for a in grant.attributes],
        "nihii": grant.nihii,
        "context": context,
        "expires": expires.astimezone(UTC).isoformat(),
    }


def _load(document: dict[str, Any]) -> Grant:
    return Grant(
        holder_cert=x509.load_der_x509_certificate(base64.b64decode(document["holder"])),
        attributes=tuple(
            SamlAttribute(name, namespace, tuple(values))
            for name, namespace, values in document["attributes"]
        ),
        nihii=document["nihii"],
    )
