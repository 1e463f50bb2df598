"""Scenario files too deep or too large for PyYAML's recursive composer are refused as
problems by line (a 400 through the admin API), never a RecursionError."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.scenarios import ScenarioError, load_scenario, load_scenario_file
from simulator.scenarios.loader import MAX_CHARACTERS, MAX_DEPTH
from simulator.scenarios.shipped import load_shipped, shipped_files

DEEP = 100_000  # far beyond Python's recursion limit


def _problems(text: str) -> list[tuple[int, str]]:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(text, source="deep.yaml")
    return [(p.line, p.message) for p in caught.value.problems]


@pytest.mark.parametrize(
    "text",
    [
        "[" * DEEP + "]" * DEEP,
        "rules: " + "{a: " * DEEP + "1" + "}" * DEEP,
        "rules:\n" + "".join("  " * i + "- \n" for i in range(1, 2 * MAX_DEPTH)),
        "x: &a [" + "[" * DEEP,  # unterminated too: the depth is hit first
    ],
)
def test_deep_nesting_is_a_problem_not_a_crash(text: str) -> None:
    ((line, message),) = _problems(text)
    assert f"nested more than {MAX_DEPTH} levels" in message
    assert line >= 1


def test_the_line_of_the_too_deep_collection_is_named() -> None:
    text = "name: deep\nrules:\n" + "".join("  " * i + "- \n" for i in range(1, 2 * MAX_DEPTH))
    ((line, _),) = _problems(text)
    assert MAX_DEPTH - 2 <= line <= MAX_DEPTH + 2


def test_a_huge_file_is_refused_before_parsing() -> None:
    ((line, message),) = _problems("# " + "x" * MAX_CHARACTERS + "\nname: big\n")
    assert line == 1 and f"may have {MAX_CHARACTERS}" in message


def test_a_deep_file_on_disk_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("[" * DEEP + "]" * DEEP)
    with pytest.raises(ScenarioError):
        load_scenario_file(path)


def test_nesting_within_the_bound_is_still_read() -> None:
    # Depth is not a problem below the bound: the usual checks speak instead.
    depth = MAX_DEPTH - 2
    found = _problems("rules: " + "[" * depth + "]" * depth)
    assert found and not any("nested" in message for _, message in found)


@pytest.mark.parametrize("name", shipped_files())
def test_every_shipped_scenario_is_within_the_bounds(name: str) -> None:
    assert load_shipped(name) is not None
