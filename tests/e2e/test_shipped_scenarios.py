"""Every rule of the shipped scenarios fires as written, over HTTP, with the package client.

Probabilistic rules (chaos) are replayed one at a time with their chance raised to 1: what is
tested here is what the rule does on the wire; how often it fires is the engine's job
(tests/scenarios/test_engine.py). The eFact rules are covered by tests/e2e/test_efact_scenarios.py.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal

import aiohttp
import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from simulator.client import ConnectorClient, ServiceFault, mediprima
from simulator.client import eattest as client_eattest
from simulator.codecs.eattest import ServiceLine
from simulator.domain.catalogue import ErrorCatalogue
from simulator.domain.population import Patient
from simulator.scenarios import Rule, Scenario, ScenarioEngine, load_shipped
from simulator.soap.parser import XmlRejected, parse_xml
from simulator.store.base import JournalQuery
from tests.e2e.conftest import Running
from tests.support.independent import xmlsec1_verify

GP_CONSULTATION = "101032"
NO_RULES = Scenario("no-rules")


@pytest.fixture(autouse=True)
def _plain_scenario_after(running: Running) -> Iterator[None]:
    yield
    running.sim.replace_scenario(NO_RULES)
    running.sim.clock.reset()


def _use(running: Running, scenario: Scenario) -> None:
    running.sim.replace_scenario(scenario)


def _rule(scenario_name: str, rule_id: str) -> Rule:
    return next(rule for rule in load_shipped(scenario_name).rules if rule.id == rule_id)


def _certain(rule: Rule) -> Scenario:
    """A scenario of `rule` alone, its chance raised to 1."""
    match = dataclasses.replace(rule.match, probability=None)
    return Scenario("one-rule", rules=(dataclasses.replace(rule, match=match),))


def _patient(running: Running) -> Patient:
    return running.population.situation("regular")


def _last_entry(running: Running, service: str) -> dict[str, object]:
    running.sim.store.flush()
    entries = running.sim.store.journal(JournalQuery(service=service, limit=1000))
    return dataclasses.asdict(max(entries, key=lambda entry: entry.id or 0))


class WireTap:
    """Keeps what the client received, status and bytes, whatever it made of them."""

    def __init__(self, client: ConnectorClient) -> None:
        self.seen: list[tuple[int, bytes]] = []
        original = client.transmit

        async def transmit(
            path: str, body: bytes, headers: Mapping[str, str]
        ) -> tuple[int, bytes]:
            status, raw = await original(path, body, headers)
            self.seen.append((status, raw))
            return status, raw

        client.transmit = transmit  # type: ignore[method-assign]

    @property
    def last(self) -> tuple[int, bytes]:
        return self.seen[-1]


async def _etar_under(running: Running, scenario: Scenario) -> tuple[WireTap, BaseException | None]:
    """One eTar consultation with `scenario` running (the token is taken before)."""
    async with running.client() as client:
        await client.token()
        _use(running, scenario)
        tap = WireTap(client)
        try:
            await client.tarification(
                _patient(running).ssin, [GP_CONSULTATION], running.sim.clock.today()
            )
        except Exception as error:  # what the client made of the answer is asserted per case
            return tap, error
    return tap, None


# -- chaos ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule_id", "code"),
    [("esb-temporarily-unavailable", "SOA-02002"), ("esb-unavailable", "SOA-02001")],
)
async def test_chaos_esb_faults(running: Running, rule_id: str, code: str) -> None:
    tap, error = await _etar_under(running, _certain(_rule("chaos", rule_id)))
    assert isinstance(error, ServiceFault)
    assert error.code == code
    assert tap.last[0] == 500
    entry = _last_entry(running, "etar")
    assert (entry["outcome"], entry["code"]) == ("fault", code)
    assert any(s["name"] == "scenario" and rule_id in s["note"] for s in entry["stages"])  # type: ignore[attr-defined]


async def test_chaos_gateway_503(running: Running) -> None:
    tap, error = await _etar_under(running, _certain(_rule("chaos", "gateway-503")))
    assert isinstance(error, XmlRejected)
    assert tap.last == (503, b"Service Unavailable")


async def test_chaos_connection_reset(running: Running) -> None:
    tap, error = await _etar_under(running, _certain(_rule("chaos", "connection-reset")))
    assert isinstance(error, aiohttp.ClientError)
    assert tap.seen == []  # no answer at all reached the client
    assert _last_entry(running, "etar")["outcome"] == "ok"  # processed, then dropped


async def test_chaos_empty_body(running: Running) -> None:
    tap, error = await _etar_under(running, _certain(_rule("chaos", "empty-body")))
    assert isinstance(error, XmlRejected)
    assert tap.last == (200, b"")


async def test_chaos_truncated_body_keeps_the_start_of_the_real_answer(running: Running) -> None:
    rule = _rule("chaos", "truncated-body")
    tap, error = await _etar_under(running, _certain(rule))
    assert isinstance(error, XmlRejected)
    status, raw = tap.last
    assert status == 200
    assert raw.startswith(b"<") and b"TarificationConsultationResponse" not in raw[-200:]
    journaled = str(_last_entry(running, "etar")["response"]).encode()
    assert raw == journaled  # the journal holds what went on the wire
    assert len(raw) > 1000


async def test_chaos_malformed_body(running: Running) -> None:
    tap, error = await _etar_under(running, _certain(_rule("chaos", "malformed-body")))
    assert isinstance(error, XmlRejected)
    assert tap.last[0] == 200
    with pytest.raises(XmlRejected):
        parse_xml(tap.last[1])


async def test_chaos_invalid_signature_is_refused_by_the_client_and_by_xmlsec1(
    running: Running,
) -> None:
    tap, error = await _etar_under(running, _certain(_rule("chaos", "invalid-signature")))
    assert error is not None and "response signature rejected" in str(error)
    status, raw = tap.last
    assert status == 200
    insurer = running.sim.pki.insurer_signing.cert.public_bytes(Encoding.PEM)
    assert xmlsec1_verify(raw, key_cert_pem=insurer).returncode != 0
    # The same answer with its signature value restored verifies: only the signature was hit.
    entry = _last_entry(running, "etar")
    assert entry["response"] == raw.decode()


async def test_chaos_missing_signature(running: Running) -> None:
    tap, error = await _etar_under(running, _certain(_rule("chaos", "missing-signature")))
    assert error is not None and "response signature rejected" in str(error)
    root = etree.fromstring(tap.last[1])
    assert root.find(".//{http://www.w3.org/2000/09/xmldsig#}Signature") is None
    assert root.find(".//{*}TarificationConsultationResponse") is not None


async def test_chaos_expired_token_is_refused_by_the_services(running: Running) -> None:
    _use(running, _certain(_rule("chaos", "expired-token")))
    async with running.client() as client:
        assertion = await client.token()
        conditions = assertion.find("{urn:oasis:names:tc:SAML:1.0:assertion}Conditions")
        assert conditions is not None
        ends = datetime.fromisoformat(conditions.get("NotOnOrAfter", "").replace("Z", "+00:00"))
        assert ends < datetime.now(UTC)
        # The expired token is refused by the services as any expired token would be.
        with pytest.raises(ServiceFault) as refused:
            await client.tarification(
                _patient(running).ssin, [GP_CONSULTATION], running.sim.clock.today()
            )
    assert refused.value.code == "SOA-01001"


async def test_chaos_expired_token_on_a_service_is_refused_as_expired(running: Running) -> None:
    rule = dataclasses.replace(
        _rule("chaos", "expired-token"),
        match=dataclasses.replace(
            _rule("chaos", "expired-token").match, service=None, probability=None
        ),
    )
    only_etar = dataclasses.replace(
        rule,
        match=dataclasses.replace(
            rule.match, service=_rule("chaos", "invalid-signature").match.service
        ),
    )
    _, error = await _etar_under(running, Scenario("t", rules=(only_etar,)))
    assert isinstance(error, ServiceFault) and error.code == "SOA-01001"
    assert "expired" in error.message


async def test_chaos_slow_answer_waits_the_rule_seconds(running: Running) -> None:
    started = time.perf_counter()
    _, error = await _etar_under(running, _certain(_rule("chaos", "slow-answer")))
    assert error is None
    assert time.perf_counter() - started >= 8.0
    stages = _last_entry(running, "etar")["stages"]
    (delay,) = [s for s in stages if s["name"] == "delay"]  # type: ignore[attr-defined]
    assert delay["ms"] >= 8000


def test_chaos_rules_are_all_covered_here() -> None:
    covered = {
        "esb-temporarily-unavailable",
        "esb-unavailable",
        "gateway-503",
        "connection-reset",
        "empty-body",
        "truncated-body",
        "malformed-body",
        "invalid-signature",
        "missing-signature",
        "expired-token",
        "slow-answer",
        "efact-answer-late",
        "efact-answer-lost",  # tests/e2e/test_efact_scenarios.py
    }
    assert {rule.id for rule in load_shipped("chaos").rules} == covered


# -- default ---------------------------------------------------------------------------------


async def test_default_scenario_delays_each_service_by_its_own_model(running: Running) -> None:
    sim = running.sim
    sim.scenarios = ScenarioEngine(load_shipped("default"), sim.clock.now, 3, no_delay=False)
    async with running.client() as client:
        await client.tarification(_patient(running).ssin, [GP_CONSULTATION], sim.clock.today())
    entry = _last_entry(running, "etar")
    (delay,) = [s for s in entry["stages"] if s["name"] == "delay"]  # type: ignore[attr-defined]
    expected = sim.scenarios.scenario.latency.model_for("etar", "TarificationConsultation")
    drawn = ScenarioEngine(load_shipped("default"), sim.clock.now, 3).delay_for(
        "etar", "TarificationConsultation"
    )
    assert expected is not None
    assert delay["ms"] >= drawn * 1000 * 0.99  # the seeded draw, replayed
    assert entry["outcome"] == "ok"


# -- eAttest rejections ----------------------------------------------------------------------


async def test_eattest_rejections_fire_in_call_order(running: Running) -> None:
    sim = running.sim
    today = sim.clock.today()
    scenario = load_shipped("eattest-rejections")
    catalogue = ErrorCatalogue.load("eattest")
    patient = _patient(running)
    line = ServiceLine(code=GP_CONSULTATION, day=today, amount=Decimal("30.00"))
    async with running.client() as client:
        accepted = await client_eattest.send_attestation(client, patient, [line])
        number = accepted.result.invoicing_number
        assert number is not None
        _use(running, scenario)
        sends = [
            r
            for r in scenario.rules
            if r.match.operation and "SendAttestation" in r.match.operation.values
        ]
        cancels = [
            r
            for r in scenario.rules
            if r.match.operation and "CancelAttestation" in r.match.operation.values
        ]
        assert len(sends) + len(cancels) == len(scenario.rules)
        for rule in sends:
            reply = await client_eattest.send_attestation(client, patient, [line])
            _assert_forced(reply, rule, catalogue)
        for rule in cancels:
            reply = await client_eattest.cancel_attestation(client, patient, number, "B")
            _assert_forced(reply, rule, catalogue)
        # Past the list, the business rules answer again: the consultation is a duplicate.
        after = await client_eattest.send_attestation(client, patient, [line])
    assert after.result.invoicing_number is None
    assert after.result.codes != (sends[-1].action.code,)  # type: ignore[union-attr]


def _assert_forced(
    reply: client_eattest.AttestationReply, rule: Rule, catalogue: ErrorCatalogue
) -> None:
    code = rule.action.code  # type: ignore[union-attr]
    assert reply.result.codes == (code,), (rule.id, reply.result.errors)
    assert reply.result.invoicing_number is None
    entry = catalogue.entry(code)
    assert reply.result.errors[0].description in (entry.fr, entry.nl)


# -- MediPrima transition --------------------------------------------------------------------


async def test_mediprima_transition_refusals_by_order_then_by_date(running: Running) -> None:
    sim = running.sim
    scenario = load_shipped("mediprima-transition")
    patient = running.population.situation("mediprima-full")
    _use(running, scenario)
    by_order = [r for r in scenario.rules if r.match.nth is not None]
    async with running.client() as client:
        for rule in by_order:
            result = await mediprima.tarification(
                client, patient.ssin, [GP_CONSULTATION], sim.clock.today()
            )
            assert [e.code for e in result.errors] == [rule.action.code], rule.id  # type: ignore[union-attr]
        # Beyond the list: priced by the rules.
        priced = await mediprima.tarification(
            client, patient.ssin, [GP_CONSULTATION], sim.clock.today()
        )
        assert priced.complete and priced.errors == ()
    # Before September 2025 every MediPrima tarification is refused by the date rule.
    sim.restart_scenario()
    august = datetime(2025, 8, 20, 8, 0, tzinfo=UTC)
    sim.clock.freeze(august)
    async with running.client(now=lambda: august) as client:
        early = await mediprima.tarification(
            client, patient.ssin, [GP_CONSULTATION], august.date(), now=august
        )
    assert [e.code for e in early.errors] == ["205"]
    entry = _last_entry(running, "etar-mediprima")
    assert any("before-mediprima-for-gps-205" in s["note"] for s in entry["stages"])  # type: ignore[attr-defined]
