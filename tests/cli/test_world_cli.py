"""`mycarenet-sim world`: list, find and show the population; one-line errors, exit code 2."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from simulator.cli.main import main
from simulator.domain.population import SITUATIONS, Population, build_population

DAY = "2026-11-23"
SIZE = ["--seed", "7", "--patients", "80", "--providers", "9", "--date", DAY]


@pytest.fixture(scope="module")
def world() -> Population:
    return build_population(7, 80, 9, date.fromisoformat(DAY))


def _run(capsys: pytest.CaptureFixture[str], command: str, *argv: str) -> tuple[int, str, str]:
    code = main(["world", command, *SIZE, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = _run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_list_prints_a_table_with_situations(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "list", "--limit", "12")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["SSIN", "NAME", "AGE", "INSURER", "MUT", "SITUATION", "FLAGS"]
    assert len(lines) == 1 + 12 + 1 and lines[-1] == f"(12 of 80 on {DAY})"
    assert "regular-dmg" in lines[1] and "not-insured" in out


def test_list_json_is_the_population_in_order(
    capsys: pytest.CaptureFixture[str], world: Population
) -> None:
    listing = _json(capsys, "list", "--limit", "0")
    assert listing["total"] == 80 and listing["date"] == DAY
    assert [p["ssin"] for p in listing["patients"]] == [p.ssin for p in world.patients]
    first = listing["patients"][0]
    patient = world.patients[0]
    assert first["situation"] == SITUATIONS[0] and first["insurer"] == patient.insurer
    assert first["age"] == patient.age_on(date.fromisoformat(DAY)) and "DMG" in first["flags"]


def test_the_same_arguments_print_the_same_world(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "list", "--limit", "0") == _run(capsys, "list", "--limit", "0")


def test_find_bim_at_an_insurer(capsys: pytest.CaptureFixture[str], world: Population) -> None:
    found = _json(capsys, "find", "--bim", "--insurer", "300")["patients"]
    expected = [p.ssin for p in world.patients if p.bim and p.insurer == "300"]
    assert [p["ssin"] for p in found] == expected and expected
    assert all("BIM" in p["flags"] for p in found)


def test_find_by_dmg_holder(capsys: pytest.CaptureFixture[str], world: Population) -> None:
    holder = world.situation("regular-dmg").dmg_holder
    assert holder is not None
    found = _json(capsys, "find", "--dmg-holder", holder)["patients"]
    expected = [p.ssin for p in world.patients if p.dmg_holder == holder]
    assert [p["ssin"] for p in found] == expected and world.situation(
        "regular-dmg"
    ).ssin in expected


def test_find_cpas_and_urgent_medical_aid(
    capsys: pytest.CaptureFixture[str], world: Population
) -> None:
    cpas = _json(capsys, "find", "--cpas")["patients"]
    assert {p["situation"] for p in cpas} == {s for s in SITUATIONS if s.startswith("mediprima")}
    uma = _json(capsys, "find", "--uma", "--situation", "mediprima-uma")["patients"]
    assert [p["ssin"] for p in uma] == [world.situation("mediprima-uma").ssin]


def test_find_with_exclusions_and_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "find", "--medical-house", "--without", "dmg", "--limit", "1")
    assert code == 0
    rows = out.splitlines()[1:-1]
    assert len(rows) == 1 and "MM" in rows[0]
    assert _json(capsys, "find", "--insured", "--deceased")["patients"] == []


def test_show_a_patient_with_everything(
    capsys: pytest.CaptureFixture[str], world: Population
) -> None:
    patient = world.situation("mediprima-partial")
    shown = _json(capsys, "show", patient.ssin)
    assert shown["ssin"] == patient.ssin and shown["situation"] == "mediprima-partial"
    (decision,) = shown["cpas_decisions"]
    assert decision["cpas"]["cbe"] == patient.cpas_decisions[0].cpas.cbe
    doctor = next(c for c in decision["covers"] if c["kind"] == "doctor")
    assert doctor["patient_part"] == "PARTIAL" and doctor["patient_part_max"] == "4.00"
    assert shown["cpas_decision_active"] is True and shown["insurability"]["periods"] == []


def test_show_periods_and_facets_as_text(
    capsys: pytest.CaptureFixture[str], world: Population
) -> None:
    patient = world.situation("ct-change")
    code, out, _ = _run(capsys, "show", patient.ssin)
    assert code == 0
    assert f"ssin: {patient.ssin}" in out and "ct1: 110" in out and "ct1: 111" in out
    hospitalised = world.situation("hospitalised")
    shown = _json(capsys, "show", hospitalised.ssin)
    assert shown["hospital_stay"]["name"].startswith("Hôpital")
    assert shown["hospital_stay"]["discharge"] is None


def test_show_a_provider_by_nihii(capsys: pytest.CaptureFixture[str], world: Population) -> None:
    gp = world.providers_of_kind("GP")[0]
    shown = _json(capsys, "show", gp.nihii)
    assert shown["provider"]["kind"] == "GP" and shown["provider"]["nihii"] == gp.nihii
    assert shown["dmg_patients"] == [p.ssin for p in world.patients if p.dmg_holder == gp.nihii]
    assert world.situation("mediprima-full").ssin in shown["listed_in_cpas_decisions_of"]
    assert _json(capsys, "show", gp.ssin) == shown  # the person behind the number, too


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["show", "UNKNOWN"], "nobody with this NISS or NIHII"),
        (["show", "12345678901"], "check digits wrong"),
        (["show", "123"], "exactly 11 digits"),
        (["find", "--insurer", "700"], "--insurer '700'"),
        (["find", "--flag", "RICH"], "'RICH'"),
        (["find", "--dmg-holder", "10394045003"], "--dmg-holder"),
        (["find", "--situation", "happy"], "--situation 'happy'"),
        (["find", "--bim", "--no-bim"], "BIM is both wanted and excluded"),
        (["list", "--limit", "many"], "--limit 'many'"),
        (["list", "--patients", "-4"], "--patients -4"),
    ],
)
def test_errors_are_one_clear_line(
    capsys: pytest.CaptureFixture[str], world: Population, argv: list[str], message: str
) -> None:
    argv = [world.unknown_ssin() if a == "UNKNOWN" else a for a in argv]
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_a_bad_date_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["world", "list", "--date", "2026-02-30"]) == 2
    assert capsys.readouterr().err == "error: --date '2026-02-30': expected YYYY-MM-DD\n"


def test_world_alone_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["world"]) == 2
    assert "world find --bim --insurer 300" in capsys.readouterr().out
