"""The engine: which rule fires for a call, within its limits, reproducibly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from simulator.scenarios import (
    CallFacts,
    ConnectionReset,
    EmptyBody,
    Fixed,
    LatencyTable,
    LogNormal,
    Scenario,
    ScenarioEngine,
    load_scenario,
)
from simulator.scenarios.latency import EndpointLatency

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NIHII = "10394044003"
NISS = "62040858223"


class FakeClock:
    def __init__(self) -> None:
        self.at = T0

    def now(self) -> datetime:
        return self.at


def engine(rules_yaml: str, seed: int | str = 1, clock: FakeClock | None = None) -> ScenarioEngine:
    scenario = load_scenario("name: t\nrules:\n" + rules_yaml)
    return ScenarioEngine(scenario, (clock or FakeClock()).now, seed)


def call(**facts: object) -> CallFacts:
    base: dict[str, object] = {"service": "eattest", "operation": "SendAttestation"}
    base.update(facts)
    return CallFacts(**base)  # type: ignore[arg-type]


def fired(eng: ScenarioEngine, facts: CallFacts) -> str | None:
    decision = eng.decide(facts)
    return decision.rule_id if decision is not None else None


@pytest.mark.parametrize(
    ("criterion", "hit", "miss"),
    [
        ("service: eattest", call(), call(service="etar")),
        ("operation: [CancelAttestation]", call(operation="CancelAttestation"), call()),
        (f"provider_nihii: '{NIHII}'", call(provider_nihii=NIHII), call(provider_nihii="x")),
        (f"patient_ssin: '{NISS}'", call(patient_ssin=NISS), call(patient_ssin=None)),
        (
            "patient_ssin: {regex: '62.*'}",
            call(patient_ssin=NISS),
            call(patient_ssin="85" + NISS[2:]),
        ),
        # any code of the request; eFact's 7-digit form is the same code
        ("code: '101010'", call(codes=("475075", "0101010")), call(codes=("101032",))),
        ("code: '0101010'", call(codes=("101010",)), call(codes=())),
        # a union stands for its mutualities; a mutuality only for itself
        ("insurer: '300'", call(insurer="319"), call(insurer="216")),
        ("insurer: '319'", call(insurer="319"), call(insurer="300")),
        ("message_name: HCPFAC", call(message_name="HCPFAC"), call(message_name="HCPAFD")),
    ],
)
def test_each_criterion(criterion: str, hit: CallFacts, miss: CallFacts) -> None:
    eng = engine(f"  - id: r\n    match: {{{criterion}}}\n    action: {{type: empty_body}}\n")
    assert fired(eng, miss) is None
    decision = eng.decide(hit)
    assert decision is not None and decision.action == EmptyBody()


def test_all_criteria_must_hold() -> None:
    eng = engine(
        f"  - id: r\n    match: {{service: eattest, patient_ssin: '{NISS}', insurer: '300'}}\n"
        "    action: {type: empty_body}\n"
    )
    assert fired(eng, call(patient_ssin=NISS, insurer="500")) is None
    assert fired(eng, call(patient_ssin=NISS, insurer="306")) == "r"


def test_first_rule_in_file_order_wins() -> None:
    eng = engine(
        "  - id: narrow\n    match: {code: '101010'}\n    action: {type: empty_body}\n"
        "  - id: broad\n    action: {type: connection_reset}\n"
    )
    assert fired(eng, call(codes=("101010",))) == "narrow"
    assert fired(eng, call(codes=("101032",))) == "broad"


def test_nth_counts_the_calls_the_rule_matches_whatever_other_rules_do() -> None:
    eng = engine(
        "  - id: first\n    match: {nth: 1}\n    action: {type: empty_body}\n"
        "  - id: third\n    match: {nth: 3}\n    action: {type: empty_body}\n"
        "  - id: second-cancel\n    match: {operation: CancelAttestation, nth: 2}\n"
        "    action: {type: empty_body}\n"
    )
    sends = [fired(eng, call()) for _ in range(4)]
    assert sends == ["first", None, "third", None]
    cancels = [fired(eng, call(operation="CancelAttestation")) for _ in range(3)]
    # Cancels also count for `third` (no operation criterion) but it has fired already.
    assert cancels == [None, "second-cancel", None]
    states = eng.states()
    assert (states["third"].matched, states["third"].fired) == (7, 1)


def test_count_limit() -> None:
    eng = engine("  - id: r\n    action: {type: empty_body}\n    limit: {count: 2}\n")
    assert [fired(eng, call()) for _ in range(4)] == ["r", "r", None, None]


def test_time_window_follows_the_call_instant_or_the_clock() -> None:
    clock = FakeClock()
    eng = engine(
        "  - id: r\n    action: {type: empty_body}\n"
        "    limit: {not_before: '2026-03-02T10:30:00+01:00', not_after: '2026-03-02T11:00:00+01:00'}\n",
        clock=clock,
    )
    assert fired(eng, call()) is None  # 10:00 Brussels
    clock.at = T0 + timedelta(minutes=45)
    assert fired(eng, call()) == "r"
    assert fired(eng, call(at=T0 + timedelta(hours=3))) is None
    clock.at = T0 + timedelta(hours=1, seconds=1)
    assert fired(eng, call()) is None


def test_within_seconds_counts_from_when_the_engine_was_made() -> None:
    clock = FakeClock()
    eng = engine(
        "  - id: r\n    action: {type: empty_body}\n    limit: {within_seconds: 60}\n", clock=clock
    )
    clock.at = T0 + timedelta(seconds=60)
    assert fired(eng, call()) == "r"
    clock.at = T0 + timedelta(seconds=61)
    assert fired(eng, call()) is None


PROBABLE = "  - id: r\n    match: {probability: 0.2}\n    action: {type: connection_reset}\n"


def pattern(eng: ScenarioEngine, n: int = 2000) -> list[bool]:
    return [eng.decide(call()) is not None for _ in range(n)]


def test_probability_is_reproducible_from_the_seed() -> None:
    first = pattern(engine(PROBABLE, seed=42))
    assert first == pattern(engine(PROBABLE, seed=42))
    assert first != pattern(engine(PROBABLE, seed=43))
    # 2000 draws at 0.2: the rate is 0.2 +- 0.03 (over 3 sigma) for any fixed seed.
    assert abs(sum(first) / len(first) - 0.2) < 0.03


def test_a_rule_seed_overrides_the_engine_seed() -> None:
    own = "  - id: r\n    match: {probability: 0.3, seed: 9}\n    action: {type: empty_body}\n"
    assert pattern(engine(own, seed=1)) == pattern(engine(own, seed=2))


def test_the_same_calls_in_the_same_order_replay_the_same_decisions() -> None:
    other = (
        "  - id: other\n    match: {operation: CancelAttestation}\n    action: {type: empty_body}\n"
    )

    def run() -> list[str | None]:
        eng = engine(other + PROBABLE, seed=5)
        calls = [call(), call(operation="CancelAttestation"), call(service="etkdepot")] * 200
        return [fired(eng, facts) for facts in calls]

    first = run()
    assert first == run()
    assert {"other", "r", None} == set(first)


def test_delay_for_uses_the_endpoint_model_and_no_delay_turns_it_off() -> None:
    table = LatencyTable(
        default=Fixed(20),
        endpoints=(EndpointLatency("etar", None, LogNormal(50, 200)),),
    )
    scenario = Scenario("t", latency=table)
    eng = ScenarioEngine(scenario, FakeClock().now, seed=3)
    assert eng.delay_for("sts", "RequestSecurityToken") == pytest.approx(0.020)
    draws = [eng.delay_for("etar", "TarificationConsultation") for _ in range(5)]
    assert len(set(draws)) == 5
    # Same seed, other traffic interleaved: the etar draws are the same.
    other = ScenarioEngine(scenario, FakeClock().now, seed=3)
    again = []
    for _ in range(5):
        other.delay_for("sts", "RequestSecurityToken")
        again.append(other.delay_for("etar", "TarificationConsultation"))
    assert again == draws
    assert ScenarioEngine(scenario, FakeClock().now, 3, no_delay=True).delay_for("etar", "x") == 0
    assert ScenarioEngine(Scenario("empty"), FakeClock().now, 3).delay_for("etar", "x") == 0


def test_decisions_carry_the_action() -> None:
    eng = engine("  - id: r\n    action: {type: connection_reset}\n")
    decision = eng.decide(call())
    assert decision is not None and decision.action == ConnectionReset()
