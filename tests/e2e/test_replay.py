"""Replays and over-long Timestamps are refused as the ESB refuses them (security/replay.py):
SOA-01001 with wsse:InvalidSecurity ("A replay attack has been detected") or MessageExpired.
A scenario with `allow_replay: true` (the shipped `load`) lets pre-signed requests through."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from lxml import etree

from simulator.client import genasync as ga_client
from simulator.client.connector import TARIFICATION_ACTION, TARIFICATION_PATH, wire_now
from simulator.codecs import tarification as tarification_codec
from simulator.scenarios import load_shipped
from simulator.security import replay
from simulator.security.wssecurity import SecurityError, sign_envelope_saml
from simulator.services import mailbox
from simulator.soap.addressing import request_headers
from simulator.soap.envelope import new_envelope, serialize
from simulator.store.seen import SeenCache
from tests.e2e.conftest import Running

FLAT_FILE = b"920000" + b"0" * 500


@pytest.fixture
def default_scenario(running: Running) -> Iterator[Running]:
    running.sim.replace_scenario(load_shipped("default"))
    yield running
    running.sim.replace_scenario(load_shipped("default"))


def _patient(running: Running) -> str:
    today = running.sim.clock.today()
    return next(
        p.ssin
        for p in running.population.patients
        if p.period_on(today) and not p.medical_house and p.death_date is None
    )


async def _signed_etar(running: Running, client: object, ttl: timedelta | None = None) -> bytes:
    assert hasattr(client, "token") and hasattr(client, "identity")
    assertion = await client.token()
    now = wire_now()
    request = tarification_codec.build_request(
        provider_nihii=running.provider.nihii,
        provider_ssin=running.provider.ssin,
        provider_type="persphysician",
        patient_ssin=_patient(running),
        encounter_date=running.sim.clock.today(),
        codes=["101032"],
        gmd_manager=None,
        input_reference=now.strftime("%Y%m%d%H%M%S%f")[:17],
        issue_instant=now,
    )
    envelope = new_envelope(request)
    sign_envelope_saml(
        envelope, assertion, client.identity.key, now=now, **({"ttl": ttl} if ttl else {})
    )
    return serialize(envelope)


def _fault(raw: bytes) -> tuple[str, str]:
    """(faultcode, faultstring) of a fault answer."""
    root = etree.fromstring(raw)
    return root.findtext(".//faultcode") or "", root.findtext(".//faultstring") or ""


async def test_the_same_signed_etar_twice_gives_one_commitment(default_scenario: Running) -> None:
    running = default_scenario
    async with running.client() as client:
        body = await _signed_etar(running, client)
        status, first = await client.send_bytes(TARIFICATION_PATH, TARIFICATION_ACTION, body)
        again, second = await client.send_bytes(TARIFICATION_PATH, TARIFICATION_ACTION, body)
    assert status == 200 and b"Fault" not in first
    assert again == 500
    code, reason = _fault(second)
    assert code == "wsse:InvalidSecurity"
    assert "replay" in reason
    assert b"SOA-01001" in second


async def test_a_timestamp_living_longer_than_five_minutes_is_expired(
    default_scenario: Running,
) -> None:
    running = default_scenario
    async with running.client() as client:
        body = await _signed_etar(running, client, ttl=timedelta(minutes=10))
        status, raw = await client.send_bytes(TARIFICATION_PATH, TARIFICATION_ACTION, body)
        fine = await _signed_etar(running, client, ttl=timedelta(minutes=5))
        ok, _ = await client.send_bytes(TARIFICATION_PATH, TARIFICATION_ACTION, fine)
    assert status == 500
    code, reason = _fault(raw)
    assert code == "wsse:MessageExpired" and "600 s" in reason
    assert ok == 200


async def test_a_replayed_genasync_post_gives_one_file(default_scenario: Running) -> None:
    running = default_scenario
    before = len(mailbox.posted(running.sim, "hcpfac"))
    async with running.client() as client:
        payload = ga_client.post_payload(
            client, FLAT_FILE, message_name="HCPFAC", input_reference="20260000000042",
            with_xades=True, moment=wire_now(),
        )  # fmt: skip
        path, action, body = ga_client.signed_request(
            client, await client.token(), "hcpfac", "post", payload,
            to=ga_client.destination("300"), now=wire_now(),
        )  # fmt: skip
        first, _ = await client.send_bytes(path, action, body)
        second, raw = await client.send_bytes(path, action, body)
    assert first == 200
    assert second == 500 and b"replay" in raw
    assert len(mailbox.posted(running.sim, "hcpfac")) == before + 1


async def test_the_load_scenario_accepts_replays(default_scenario: Running) -> None:
    running = default_scenario
    running.sim.replace_scenario(load_shipped("load"))
    async with running.client() as client:
        body = await _signed_etar(running, client)
        statuses = [
            (await client.send_bytes(TARIFICATION_PATH, TARIFICATION_ACTION, body))[0]
            for _ in range(3)
        ]
        # The Timestamp lifetime still holds under allow_replay.
        long = await _signed_etar(running, client, ttl=timedelta(minutes=10))
        expired, _ = await client.send_bytes(TARIFICATION_PATH, TARIFICATION_ACTION, long)
    assert statuses == [200, 200, 200]
    assert expired == 500


def _envelope_with_message_id(running: Running, assertion: etree._Element, key: object) -> bytes:
    headers = request_headers("urn:test", to=None, message_id="uuid:same-message")
    envelope = new_envelope(etree.Element("{urn:test}payload"), headers)
    sign_envelope_saml(envelope, assertion, key, now=wire_now())  # type: ignore[arg-type]
    return serialize(envelope)


async def test_a_resend_signed_afresh_with_the_same_message_id_is_a_replay(
    running: Running,
) -> None:
    async with running.client() as client:
        assertion = await client.token()
        first = etree.fromstring(_envelope_with_message_id(running, assertion, client.identity.key))
        second = etree.fromstring(
            _envelope_with_message_id(running, assertion, client.identity.key)
        )
    assert replay.message_keys(first)[0] != replay.message_keys(second)[0]  # new signature
    cache = SeenCache()

    def first_seen(keys: object, until: float) -> bool:
        return cache.first_seen(keys, until, now=wire_now().timestamp())  # type: ignore[arg-type]

    replay.check_fresh(first, caller="CN=gp", first_seen=first_seen)
    replay.check_fresh(second, caller="CN=other", first_seen=first_seen)  # another caller's
    with pytest.raises(SecurityError) as refused:
        replay.check_fresh(second, caller="CN=gp", first_seen=first_seen)
    assert refused.value.fault == "InvalidSecurity"
