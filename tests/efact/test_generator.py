"""Generated files: deterministic, the fault rate holds, every fault is found, nothing else."""

from __future__ import annotations

import io
from collections import Counter

import pytest

from simulator.domain.efact_processing import billed_services, ledger_findings
from simulator.domain.population import Population, build_population
from simulator.efact.checks import CheckOptions, check_file
from simulator.efact.generator import FAULTS, HISTORY_FAULTS, Spec, generate
from simulator.efact.parser import parse

from .helpers import TODAY


@pytest.fixture(scope="module")
def world() -> Population:
    return build_population(20250901, 300, 40, TODAY)


def _generate(world: Population, **spec: object) -> tuple[bytes, list]:  # type: ignore[type-arg]
    out = io.BytesIO()
    faults = generate(out, world, Spec(today=TODAY, **spec))  # type: ignore[arg-type]
    return out.getvalue(), faults


def test_same_seed_same_bytes_other_seed_other_bytes(world: Population) -> None:
    first, _ = _generate(world, invoices=50, error_rate=0.1, seed=4)
    again, _ = _generate(world, invoices=50, error_rate=0.1, seed=4)
    other, _ = _generate(world, invoices=50, error_rate=0.1, seed=5)
    assert first == again
    assert first != other


def test_valid_file_has_no_finding_even_against_the_tariff(world: Population) -> None:
    data, faults = _generate(world, invoices=300, seed=1)
    assert faults == []
    assert check_file(data, CheckOptions(today=TODAY, population=world)) == []
    _, records = parse(data)
    assert sum(1 for r in records if r.type == "20") == 300


def test_fault_rate_holds_and_every_fault_is_found(world: Population) -> None:
    data, faults = _generate(world, invoices=1000, error_rate=0.05, seed=9)
    assert len(faults) == 50
    assert len({f.invoice for f in faults}) == 50
    assert set(Counter(f.kind for f in faults)) == set(FAULTS)  # every kind drawn at this size
    found = check_file(data, CheckOptions(today=TODAY, population=world))
    by_place = {(r.index, r.code) for r in found}
    assert all((f.record_index, f.code) in by_place for f in faults)
    expected = {(f.record_index, f.code) for f in faults}
    future = {f.record_index for f in faults if f.kind == "future"}
    # The only extra finding: a service in the future also has its last date in the future.
    extra = [(r.index, r.code) for r in found if (r.index, r.code) not in expected]
    assert all(code == "500610" and index in future for index, code in extra)


def test_insurer_filter_and_bad_rate(world: Population) -> None:
    data, _ = _generate(world, invoices=20, seed=2, insurer="100")
    _, records = parse(data)
    destinations = {r.text[84:87] for r in records if r.type == "20"}
    assert destinations and all(d.startswith("1") for d in destinations)
    with pytest.raises(ValueError, match="between 0 and 1"):
        _generate(world, invoices=1, error_rate=2.0)
    with pytest.raises(ValueError, match="unknown fault kind"):
        _generate(world, invoices=2, error_rate=1.0, faults=("nope",))


# -- one doctor, one union (docs/rules.md "eFact") --------------------------------------------


def _providers_and_unions(data: bytes) -> tuple[set[str], set[str], str]:
    _, records = parse(data)
    providers, unions, third = set(), set(), ""
    for record in records:
        if record.type == "10":
            third = record.text[56:67]
        elif record.type == "20":
            unions.add(record.text[84:85])
        elif record.type == "50":
            providers.add(record.text[68:79])
    return providers, unions, third


def test_a_file_is_one_doctors_for_one_union_by_default(world: Population) -> None:
    data, _ = _generate(world, invoices=60, seed=3)
    providers, unions, third = _providers_and_unions(data)
    assert providers == {third} and len(unions) == 1
    union = next(iter(unions)) + "00"
    found = check_file(data, CheckOptions(today=TODAY, population=world, insurer=union))
    assert found == []
    doctor = world.providers_of_kind("GP")[3].nihii
    data, _ = _generate(world, invoices=5, seed=3, doctor=doctor)
    assert _providers_and_unions(data)[0] == {doctor}


def test_a_mixed_file_is_refused_for_its_other_union_and_other_doctors(world: Population) -> None:
    data, _ = _generate(world, invoices=60, seed=3, mixed=True)
    providers, unions, _ = _providers_and_unions(data)
    assert len(providers) > 1 and len(unions) > 1
    found = check_file(data, CheckOptions(today=TODAY, population=world, insurer="300"))
    codes = {(r.code, r.letter, r.zone) for r in found}
    assert ("201803", "B", "18") in codes  # a patient of another union (record 20 zone 18)
    assert ("501503", "R", "15") in codes  # another doctor's service (record 50 zone 15)


def test_history_faults_are_found_against_the_ledger(world: Population) -> None:
    """`duplicate` and `cumul` are not record faults: the ledger rules find them."""
    for kind in HISTORY_FAULTS:
        data, faults = _generate(world, invoices=10, seed=8, error_rate=0.1, faults=(kind,))
        assert check_file(data, CheckOptions(today=TODAY, population=world)) == []
        _, records = parse(data)
        billed = billed_services(records, "300", "file")
        found = {(r.index, r.code) for r in ledger_findings(billed, [])}
        assert found == {(f.record_index, f.code) for f in faults}, kind


def test_named_patients_are_billed_whatever_their_situation(world: Population) -> None:
    patient = world.situation("not-in-order")
    data, _ = _generate(world, invoices=3, seed=1, patients=(patient.ssin,),
                        insurer=patient.insurer)  # fmt: skip
    found = check_file(data, CheckOptions(today=TODAY, population=world))
    assert {r.code for r in found} == {"500540"}  # one service of the named patient
