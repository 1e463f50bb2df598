"""Pending SignChallenges live in the store: the Challenge is answered whichever worker gets
it, once, within the TTL, with the Context the SignChallenge named; expired ones are dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from simulator.domain.sts import ChallengeRefused
from simulator.security.pki import TestPki
from simulator.security.saml import SamlAttribute
from simulator.services.sts_challenges import KIND, Grant, PendingChallenges
from tests.store.conftest import Backend

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def grant(tmp_path_factory: pytest.TempPathFactory) -> Grant:
    pki = TestPki.load_or_create(Path(tmp_path_factory.mktemp("pki")))
    identity = pki.issue_provider("19283746001", "85073003328", "Dr Test")
    attribute = SamlAttribute("urn:be:fgov:person:ssin", "urn:be:fgov:identification-namespace",
                              ("85073003328",))  # fmt: skip
    return Grant(identity.cert, (attribute,), "19283746001")


def test_a_challenge_sent_by_one_worker_is_answered_at_another_once(
    backend: Backend, grant: Grant
) -> None:
    sender, other = PendingChallenges(backend.open().records), backend.open().records
    receiver = PendingChallenges(other)
    challenge = sender.open(grant, context="ctx-1", now=NOW)
    assert len(challenge) > 50  # expiry, then 32 random bytes
    found = receiver.peek(challenge, context=None, now=NOW)  # e-Contract omits the Context
    assert found == grant
    with pytest.raises(ChallengeRefused, match="does not match"):
        receiver.peek(challenge, context="ctx-2", now=NOW)
    assert receiver.close(challenge)
    assert not sender.close(challenge)  # used up once, whichever worker came first
    with pytest.raises(ChallengeRefused, match="unknown or expired"):
        sender.peek(challenge, context="ctx-1", now=NOW)


def test_expired_challenges_are_refused_and_dropped(backend: Backend, grant: Grant) -> None:
    records = backend.open().records
    book = PendingChallenges(records, ttl=timedelta(minutes=5))
    old = [book.open(grant, context=None, now=NOW) for _ in range(3)]
    with pytest.raises(ChallengeRefused, match="unknown or expired"):
        book.peek(old[0], context=None, now=NOW + timedelta(minutes=6))
    fresh = book.open(grant, context=None, now=NOW + timedelta(minutes=6))
    assert [key for key, _ in records.find(KIND)] == [fresh]
