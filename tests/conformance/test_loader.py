"""Suite files: what loads, and errors that name the line a vendor must fix."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from simulator.conformance.loader import SuiteError, load_suite
from simulator.conformance.model import Content, EfactZone, NoneAfter, Requests, ValidRequests
from simulator.conformance.suites import shipped_suites

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "suite.schema.json"

MINIMAL = """\
suite: demo
title: Demo
at: "2025-11-17T10:00:00+01:00"
cases:
  - id: C-1
    title: one case
    action: etar.consult
    patient: {situation: regular}
    instructions: do it
    expect:
      - valid-requests: {}
      - says: one call
        requests: {service: etar, outcome: ok, min: 1, max: 1}
      - none-after:
          trigger: {service: etar, outcome: business-error}
          then: {service: etar}
      - content: {service: etar, xpath: "//kmehr:id", equals: "{patient}"}
"""


def _problems(text: str) -> list[str]:
    with pytest.raises(SuiteError) as caught:
        load_suite(text, source="suite.yaml")
    return caught.value.lines()


def test_a_minimal_suite_loads_with_every_expectation_kind() -> None:
    suite = load_suite(MINIMAL)
    (case,) = suite.cases
    kinds = [type(c.expectation) for c in case.checks]
    assert kinds == [ValidRequests, Requests, NoneAfter, Content]
    assert case.checks[1].says == "one call"
    assert case.checks[1].expectation == Requests(
        case.checks[1].expectation.select,
        minimum=1,
        maximum=1,  # type: ignore[union-attr]
    )
    assert case.checks[2].says.startswith("no etar")  # a default sentence when none is given
    assert suite.at.isoformat() == "2025-11-17T10:00:00+01:00"


def test_an_unknown_situation_is_reported_on_its_line_with_a_suggestion() -> None:
    lines = _problems(MINIMAL.replace("situation: regular}", "situation: regulr}"))
    assert lines == [
        "suite.yaml:8: no situation 'regulr' in the population (did you mean 'regular'?)"
    ]


def test_an_unknown_expectation_kind_names_the_known_ones() -> None:
    lines = _problems(MINIMAL.replace("- valid-requests: {}", "- valid-request: {}"))
    assert len(lines) == 1
    assert lines[0].startswith("suite.yaml:11: unknown expectation 'valid-request' (did you mean")


def test_every_problem_of_the_file_is_reported_at_once() -> None:
    text = MINIMAL.replace("outcome: ok", "outcome: okay").replace('"//kmehr:id"', '"//kmehr:id["')
    lines = _problems(text)
    assert [line.split(":")[1] for line in lines] == ["13", "17"]
    assert "`outcome` must be one of ok, business-error, fault" in lines[0]
    assert "XPath" in lines[1]


def test_max_below_min_and_duplicate_case_ids_are_errors() -> None:
    text = MINIMAL.replace("min: 1, max: 1", "min: 2, max: 1")
    assert "`max` (1) is below `min` (2)" in _problems(text)[0]
    case = MINIMAL[MINIMAL.index("  - id: C-1") :]
    lines = _problems(MINIMAL + case)
    assert lines == ["suite.yaml:18: case id 'C-1' is already used on line 5"]


def test_an_inline_scenario_is_checked_with_its_lines_in_the_suite_file() -> None:
    text = MINIMAL.replace(
        "    instructions: do it\n",
        "    instructions: do it\n    scenario:\n      name: x\n      rules:\n"
        "        - {id: r, action: {type: rejekt}}\n",
    )
    (line,) = _problems(text)
    assert line.startswith("suite.yaml:13: scenario:")


def test_not_yaml_and_empty_files() -> None:
    assert _problems("suite: [")[0].startswith("suite.yaml:1: not valid YAML")
    assert _problems("") == ["suite.yaml:1: the file is empty; expected a suite"]


@pytest.mark.parametrize("name", sorted(shipped_suites()))
def test_every_shipped_suite_loads_and_follows_the_json_schema(name: str) -> None:
    path = shipped_suites()[name]
    suite = load_suite(path.read_text(encoding="utf-8"), source=str(path))
    assert suite.id == name and suite.cases
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), schema)


def test_efact_zone_service_dates_within_months() -> None:
    zone = '      - efact-zone: {record: "50", zone: "5", within-months: 2}\n'
    suite = load_suite(MINIMAL + zone)
    assert suite.cases[0].checks[-1].expectation == EfactZone("50", "5", within_months=2)
    (line,) = _problems(MINIMAL + zone.replace("2}", "-1}"))
    assert line == "suite.yaml:18: `within-months` must be >= 0, got -1"
