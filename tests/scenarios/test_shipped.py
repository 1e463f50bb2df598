"""Every shipped scenario loads, validates against the JSON Schema, and each rule fires as written."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from simulator.scenarios import (
    CallFacts,
    LogNormal,
    Reject,
    Rule,
    Scenario,
    ScenarioEngine,
    load_shipped,
    shipped_files,
)
from simulator.services import catalogue_of_operations

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "schemas" / "scenario.schema.json"
# After the MediPrima transition, so that the clock-bound rule of mediprima-transition is idle.
AFTER_TRANSITION = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def operations() -> dict[str, set[str]]:
    known: dict[str, set[str]] = {}
    for op in catalogue_of_operations():
        known.setdefault(op.service, set()).add(op.name)
    return known


NAMES = list(shipped_files())


def test_the_issue_s_scenarios_are_shipped() -> None:
    assert {
        "default",
        "chaos",
        "eattest-rejections",
        "efact-rejections",
        "mediprima-transition",
    } <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_loads_with_the_real_service_names(name: str) -> None:
    scenario = load_shipped(name, operations=operations())
    assert scenario.name == name
    assert scenario.description


@pytest.mark.parametrize("name", NAMES)
def test_validates_against_the_json_schema(name: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    data = yaml.safe_load(shipped_files()[name].read_text(encoding="utf-8"))
    errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(data)]
    assert errors == []


def test_the_schema_refuses_what_the_loader_refuses() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    bad: dict[str, object] = {"name": "t", "rules": [{"id": "a", "action": {"type": "delay"}}]}
    assert not validator.is_valid(bad)
    bad = {"name": "t", "latency": {"default": {"model": "fixed", "ms": 1, "median_ms": 2}}}
    assert not validator.is_valid(bad)


def test_default_is_quiet_and_sub_second() -> None:
    scenario = load_shipped("default")
    assert scenario.rules == ()
    models = [scenario.latency.default, *(e.model for e in scenario.latency.endpoints)]
    assert models and all(isinstance(m, LogNormal) and m.p99_ms < 1000 for m in models)
    for op in catalogue_of_operations():
        assert scenario.latency.model_for(op.service, op.name) is not None


def facts_for(rule: Rule) -> CallFacts:
    """A call that meets the rule's criteria (its first listed value of each)."""
    match = rule.match

    def first(criterion: object) -> str | None:
        values = getattr(criterion, "values", None)
        return sorted(values)[0] if values else None

    assert match.service is not None and match.operation is not None
    code = first(match.code)
    return CallFacts(
        service=str(first(match.service)),
        operation=str(first(match.operation)),
        provider_nihii=first(match.provider_nihii),
        patient_ssin=first(match.patient_ssin),
        codes=(code,) if code else (),
        insurer=first(match.insurer),
        message_name=first(match.message_name),
        at=AFTER_TRANSITION,
    )


def ordinal_rules(scenario: Scenario) -> list[Rule]:
    return [rule for rule in scenario.rules if rule.match.nth is not None]


@pytest.mark.parametrize("name", ["eattest-rejections", "efact-rejections", "mediprima-transition"])
def test_each_rejection_fires_on_its_call_with_its_catalogue_texts(name: str) -> None:
    scenario = load_shipped(name, operations=operations())
    rules = ordinal_rules(scenario)
    assert rules
    for rule in rules:
        engine = ScenarioEngine(scenario, lambda: AFTER_TRANSITION, seed=0)
        decisions = [engine.decide(facts_for(rule)) for _ in range(rule.match.nth or 0)]
        last = decisions[-1]
        assert last is not None and last.rule_id == rule.id, rule.id
        assert isinstance(last.action, Reject) and last.action.text_fr and last.action.text_nl
        assert rule.id.endswith(last.action.code)  # ids name their code: the file reads true
        # Calls of the same kind are rejected in file order, one rule each.
        assert all(d is not None and d.rule_id != rule.id for d in decisions[:-1])


def test_mediprima_is_refused_while_the_clock_is_before_september_2025() -> None:
    scenario = load_shipped("mediprima-transition")
    now = datetime(2025, 8, 20, 10, 0, tzinfo=UTC)
    engine = ScenarioEngine(scenario, lambda: now, seed=0)
    facts = CallFacts("etar-mediprima", "TarificationConsultation")
    decisions = [engine.decide(facts) for _ in range(10)]
    assert {d.rule_id for d in decisions if d is not None} == {"before-mediprima-for-gps-205"}
    assert len([d for d in decisions if d is not None]) == 10


def test_every_chaos_rule_fires_at_a_low_rate() -> None:
    scenario = load_shipped("chaos", operations=operations())
    counts = dict.fromkeys((rule.id for rule in scenario.rules), 0)
    calls = 0
    for rule in scenario.rules:
        # Calls each rule can see: its own service/operation when it names one.
        service = sorted(rule.match.service.values)[0] if rule.match.service else "etar"
        operation = sorted(rule.match.operation.values)[0] if rule.match.operation else "x"
        message = sorted(rule.match.message_name.values)[0] if rule.match.message_name else None
        engine = ScenarioEngine(scenario, lambda: AFTER_TRANSITION, seed=2026)
        for _ in range(3000):
            decision = engine.decide(CallFacts(service, operation, message_name=message))
            calls += 1
            if decision is not None:
                counts[decision.rule_id] += 1
    assert all(count > 0 for count in counts.values()), counts
    assert sum(counts.values()) / calls < 0.15  # low rates: most calls are answered normally
