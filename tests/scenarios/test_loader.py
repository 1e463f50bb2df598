"""Scenario files -> model: what is accepted, and errors that name the right line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from simulator.domain.catalogue import ErrorCatalogue
from simulator.scenarios import (
    LogNormal,
    Reject,
    ScenarioError,
    SoapFaultAction,
    TruncatedBody,
    load_scenario,
    load_scenario_file,
)

OPERATIONS = {
    "eattest": {"SendAttestation", "CancelAttestation"},
    "etar": {"TarificationConsultation"},
    "genasync": {"post", "get", "confirm"},
}

# Valid identifiers (check digits hold).
NIHII = "10394044003"
NISS = "62040858223"


def problems(text: str) -> list[tuple[int, str]]:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(text, source="t.yaml", operations=OPERATIONS)
    return [(p.line, p.message) for p in caught.value.problems]


def test_a_full_rule_is_read_with_catalogue_texts() -> None:
    scenario = load_scenario(
        f"""\
name: demo
description: one of each
rules:
  - id: nocrpr
    description: no service today
    match:
      service: eattest
      operation: SendAttestation
      provider_nihii: "{NIHII}"
      patient_ssin: ["{NISS}"]
      code: "0101010"
      insurer: "300"
      message_name: {{regex: "HCP.*"}}
      nth: 2
      probability: 0.5
      seed: 7
    action: {{type: reject, code: "238"}}
    limit: {{count: 3, not_before: "2026-01-01T00:00:00+01:00", within_seconds: 60}}
""",
        operations=OPERATIONS,
    )
    (rule,) = scenario.rules
    assert (scenario.name, rule.id, rule.line) == ("demo", "nocrpr", 4)
    entry = ErrorCatalogue.load("eattest").entry("238")
    assert rule.action == Reject("eattest", "238", entry.path, entry.fr, entry.nl)
    assert rule.match.code is not None and rule.match.code.values == {"101010"}
    assert rule.match.patient_ssin is not None and rule.match.patient_ssin.accepts(NISS)
    assert rule.match.message_name is not None and rule.match.message_name.accepts("HCPFAC")
    assert (rule.match.nth, rule.match.probability, rule.match.seed) == (2, 0.5, 7)
    assert rule.limit.count == 3 and rule.limit.within_seconds == 60
    assert rule.limit.not_before == datetime(2025, 12, 31, 23, 0, tzinfo=UTC)


def test_a_time_without_offset_is_brussels_time() -> None:
    scenario = load_scenario(
        "name: t\nrules:\n  - id: a\n    action: {type: empty_body}\n"
        "    limit: {not_after: '2025-07-01T12:00:00'}\n"
    )
    assert scenario.rules[0].limit.not_after == datetime(2025, 7, 1, 10, 0, tzinfo=UTC)


def test_reject_path_picks_the_entry_and_catalogue_can_be_explicit() -> None:
    catalogue = ErrorCatalogue.load("etar")
    code = "100"
    paths = [e.path for e in catalogue.entries if e.code == code]
    scenario = load_scenario(
        f"name: t\nrules:\n  - id: a\n    action: {{type: reject, catalogue: etar, code: '{code}',"
        f" path: '{paths[-1]}'}}\n"
    )
    action = scenario.rules[0].action
    assert isinstance(action, Reject)
    assert action.path == paths[-1]
    assert action.text_fr == catalogue.entry(code, paths[-1]).fr


def test_soap_fault_and_other_actions() -> None:
    scenario = load_scenario(
        "name: t\nrules:\n"
        "  - id: a\n    action: {type: soap_fault, code: SOA-02002, http_status: 503}\n"
        "  - id: b\n    action: {type: truncated_body, keep: 0.25}\n"
    )
    fault, cut = (rule.action for rule in scenario.rules)
    genins = ErrorCatalogue.load("genins").entry("SOA-02002")
    # The reason is the English Message; the French and Dutch ones are the catalogue's.
    reason = "service temporarily not available; try again, else contact the helpdesk"
    assert fault == SoapFaultAction(
        "SOA-02002", f"{reason} (forced by the running scenario)", genins.fr, genins.nl, 503
    )
    assert cut == TruncatedBody(0.25)


def test_latency_section() -> None:
    scenario = load_scenario(
        "name: t\nlatency:\n  default: {model: fixed, ms: 5}\n  endpoints:\n"
        "    - {service: eattest, operation: SendAttestation, model: lognormal,"
        " median_ms: 50, p99_ms: 200}\n",
        operations=OPERATIONS,
    )
    assert scenario.latency.model_for("eattest", "SendAttestation") == LogNormal(50, 200)


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        # unknown catalogue code, on the line of the code
        (
            "name: t\nrules:\n  - id: a\n    match: {service: eattest}\n    action:\n"
            "      type: reject\n      code: '999'\n",
            7,
            "code '999' is not in the eattest error catalogue",
        ),
        # unknown key, with a suggestion
        (
            "name: t\nrules:\n  - id: a\n    acton: {type: empty_body}\n",
            4,
            "unknown key 'acton' in a rule (did you mean 'action'?)",
        ),
        ("name: t\nrules:\n  - id: a\n    match: {nth: 1}\n", 3, "a rule has no `action`"),
        (
            "name: t\nrules:\n  - id: a\n    action: {type: empty_body}\n    limits: {count: 1}\n",
            5,
            "unknown key 'limits' in a rule (did you mean 'limit'?)",
        ),
        # unknown service / operation of that service
        (
            "name: t\nrules:\n  - id: a\n    match:\n      service: eatest\n    action: {type: empty_body}\n",
            5,
            "unknown service 'eatest' (did you mean 'eattest'?)",
        ),
        (
            "name: t\nrules:\n  - id: a\n    match:\n      service: etar\n      operation: SendAttestation\n"
            "    action: {type: empty_body}\n",
            6,
            "'SendAttestation' is not an operation of etar",
        ),
        # bad regex
        (
            "name: t\nrules:\n  - id: a\n    match:\n      patient_ssin: {regex: '85[0-'}\n"
            "    action: {type: empty_body}\n",
            5,
            "`patient_ssin` regex",
        ),
        # check digits
        (
            "name: t\nrules:\n  - id: a\n    match:\n      patient_ssin:\n        - '62040858223'\n"
            "        - '62040858224'\n    action: {type: empty_body}\n",
            7,
            "'62040858224' is not a valid NISS",
        ),
        (
            "name: t\nrules:\n  - id: a\n    match: {provider_nihii: '10394045003'}\n    action: {type: empty_body}\n",
            4,
            "not a valid NIHII",
        ),
        (
            "name: t\nrules:\n  - id: a\n    match: {code: '101011'}\n    action: {type: empty_body}\n",
            4,
            "not a valid nomenclature code",
        ),
        # numbers and ranges
        (
            "name: t\nrules:\n  - id: a\n    match: {probability: 1.5}\n    action: {type: empty_body}\n",
            4,
            "`probability` must be above 0 and at most 1",
        ),
        (
            "name: t\nrules:\n  - id: a\n    match: {nth: zero}\n    action: {type: empty_body}\n",
            4,
            "`nth` must be a whole number, got 'zero'",
        ),
        (
            "name: t\nrules:\n  - id: a\n    action: {type: empty_body}\n    limit:\n"
            "      not_before: '2026-01-02T00:00:00'\n      not_after: '2026-01-01T00:00:00'\n",
            7,
            "`not_after` must come after `not_before`",
        ),
        (
            "name: t\nrules:\n  - id: a\n    action: {type: empty_body}\n    limit: {not_after: tomorrow}\n",
            5,
            "must be an ISO date-time",
        ),
        # actions
        (
            "name: t\nrules:\n  - id: a\n    action: {type: rejet, code: '238'}\n",
            4,
            "unknown action type 'rejet' (did you mean 'reject'?)",
        ),
        (
            "name: t\nrules:\n  - id: a\n    action: {type: reject, code: '238'}\n",
            4,
            "`reject` needs `catalogue:`",
        ),
        (
            "name: t\nrules:\n  - id: a\n    action: {type: soap_fault, code: SOA-09999}\n",
            4,
            "SOA-09999 is not a known ESB fault code",
        ),
        (
            "name: t\nrules:\n  - id: a\n    action: {type: empty_body, code: '1'}\n",
            4,
            "unknown key 'code' in a `empty_body` action",
        ),
        # latency
        (
            "name: t\nlatency:\n  default:\n    model: lognormal\n    median_ms: 50\n    p99_ms: 40\n",
            6,
            "`p99_ms` must be above `median_ms`",
        ),
        (
            "name: t\nlatency:\n  endpoints:\n    - {service: etar, model: gauss, mean_ms: 1}\n",
            4,
            "unknown latency model 'gauss'",
        ),
        # structure
        ("name: t\nname: u\n", 2, "key 'name' appears twice"),
        (
            "name: t\nrules:\n  - id: a\n    action: {type: empty_body}\n  - id: a\n"
            "    action: {type: empty_body}\n",
            5,
            "rule id 'a' is already used on line 3",
        ),
        ("name: t\nrules:\n  - id: a\n    action: [type, empty_body\n", 5, "not valid YAML"),
        ("", 1, "the file is empty"),
        ("- a\n- b\n", 1, "the scenario must be a mapping"),
    ],
)
def test_errors_name_their_line(text: str, line: int, fragment: str) -> None:
    found = problems(text)
    assert len(found) == 1, found
    assert found[0][0] == line
    assert fragment in found[0][1]


def test_every_bad_rule_is_reported_in_line_order() -> None:
    found = problems(
        "name: t\nrules:\n"
        "  - id: a\n    match: {service: nope}\n    action: {type: empty_body}\n"
        "  - id: b\n    action: {type: empty_body}\n"
        "  - id: c\n    action: {type: http_status, status: 99}\n"
        "latency: {default: {model: fixed}}\n"
    )
    assert [line for line, _ in found] == [4, 9, 10]


def test_without_an_operation_list_names_are_not_checked() -> None:
    scenario = load_scenario(
        "name: t\nrules:\n  - id: a\n    match: {service: future}\n"
        "    action: {type: connection_reset}\n"
    )
    assert scenario.rules[0].match.service is not None


def test_file_name_gives_default_name_and_errors_carry_the_path(tmp_path: Path) -> None:
    good = tmp_path / "my-suite.yaml"
    good.write_text("rules: []\n")
    assert load_scenario_file(good).name == "my-suite"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: t\nrules: {}\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario_file(bad)
    assert caught.value.lines() == [f"{bad}:2: `rules` must be a list"]


def test_forced_fault_messages_are_in_the_language_their_xml_lang_says() -> None:
    """A forced SOA-02002 and a forced business code carried in a fault: French under fr,
    Dutch under nl, English under en (it used to carry the French text under en)."""
    from simulator.scenarios.model import Reject, SoapFaultAction
    from simulator.server.overlay import rejection_fault
    from simulator.soap.faults import SoapFault, fault_envelope

    scenario = load_scenario(
        "name: t\nrules:\n"
        "  - id: busy\n    match: {service: etar}\n    action: {type: soap_fault, code: SOA-02002}\n"
        "  - id: refused\n    match: {service: eattest}\n    action: {type: reject, code: '196'}\n",
        source="t.yaml",
    )
    busy, refused = (rule.action for rule in scenario.rules)
    assert isinstance(busy, SoapFaultAction) and isinstance(refused, Reject)

    def messages(fault: SoapFault) -> dict[str, str]:
        lang = "{http://www.w3.org/XML/1998/namespace}lang"
        return {m.get(lang, ""): m.text or "" for m in fault_envelope(fault).iter("Message")}

    forced = messages(SoapFault(busy.code, busy.reason))
    assert "temporairement" in forced["fr"] and "tijdelijk" in forced["nl"]
    assert forced["en"].startswith("service temporarily not available")
    carried = messages(rejection_fault(refused))
    assert (carried["fr"], carried["nl"]) == (refused.text_fr, refused.text_nl)
    assert carried["en"] == "eattest code 196 forced by the running scenario"
