"""check_file reads a 920000 in chunks (Validator.feed_chunk); feeding parsed Records one by one
(check_records) must give exactly the same findings and the same format errors."""

from __future__ import annotations

import dataclasses
import io
import random
from datetime import date

import pytest

from simulator.config import Settings
from simulator.domain import nomenclature
from simulator.domain.population import Population, build_population
from simulator.efact import parser as parser_module
from simulator.efact.checks import CheckOptions, check_file, check_records
from simulator.efact.errors import Rejection
from simulator.efact.generator import Spec, generate
from simulator.efact.parser import EfactFormatError, parse
from simulator.efact.writer import Invoice, Service

from .helpers import OFFSET, small_file

TODAY = date(2026, 1, 15)


@pytest.fixture(scope="module")
def world() -> Population:
    settings = Settings()
    return build_population(settings.seed, 300, 40, TODAY)


@pytest.fixture(scope="module")
def faulty(world: Population) -> bytes:
    out = io.BytesIO()
    generate(out, world, Spec(invoices=150, error_rate=0.3, seed=5, today=TODAY))
    return out.getvalue()


def _record_by_record(data: bytes, options: CheckOptions) -> list[Rejection]:
    return check_records(*parse(data), options)


def _both(data: bytes, options: CheckOptions) -> tuple[object, object]:
    """(chunked result, record-by-record result); a format error is compared by its text."""
    results: list[object] = []
    for check in (check_file, _record_by_record):
        try:
            results.append(check(data, options))
        except EfactFormatError as error:
            results.append(("EfactFormatError", str(error)))
    return results[0], results[1]


def _mutated(data: bytes, rng: random.Random) -> bytes:
    """A few characters changed anywhere after the header (checksums left wrong on purpose)."""
    body = bytearray(data)
    for _ in range(rng.randint(1, 12)):
        body[rng.randrange(OFFSET, len(body))] = rng.choice(b"0123456789 AZ+-\xe9")
    return bytes(body)


@pytest.mark.parametrize("with_world", [False, True], ids=["structure", "world"])
def test_chunked_and_record_by_record_findings_agree(
    world: Population, faulty: bytes, with_world: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parser_module, "_CHUNK_RECORDS", 7)  # many chunk boundaries
    options = CheckOptions(today=TODAY, population=world if with_world else None)
    chunked, single = _both(faulty, options)
    assert isinstance(chunked, list) and len(chunked) > 20  # the faults are found
    assert chunked == single
    rng = random.Random(3)
    for _ in range(40):
        data = _mutated(faulty, rng)
        chunked, single = _both(data, options)
        assert chunked == single


def test_unknown_record_type_and_short_file_give_the_same_result(faulty: bytes) -> None:
    options = CheckOptions(today=TODAY)
    unknown = faulty[: OFFSET + 350 * 5] + b"77" + faulty[OFFSET + 350 * 5 + 2 :]
    chunked, single = _both(unknown, options)
    assert chunked == single
    assert isinstance(chunked, list) and any(
        r.index == 6 and r.code.endswith("0103") for r in chunked
    )
    chunked, single = _both(faulty[:-100], options)
    assert chunked == single
    assert isinstance(chunked, tuple) and "file ends inside" in str(chunked[1])


def test_invalid_bytes_give_the_same_findings_chunked_or_not(
    faulty: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parser_module, "_CHUNK_RECORDS", 7)
    options = CheckOptions(today=TODAY)
    rng = random.Random(11)
    for _ in range(40):
        body = bytearray(faulty)
        for _ in range(rng.randint(1, 8)):
            body[rng.randrange(OFFSET, len(body))] = rng.choice(b"\x00\t\r\n\x7f\x80\xb2\xe9\xff")
        chunked, single = _both(bytes(body), options)
        assert chunked == single


def test_prices_follow_the_population_given_not_an_earlier_one_with_the_same_niss() -> None:
    """The tariff cache outlives a file: a patient with the same NISS in another population
    (another seed, a test's own world) must be priced as that population says."""
    world = build_population(11, 60, 20, date(2026, 11, 23))
    day = date(2026, 11, 20)
    patient = world.situation("regular")
    gp = world.providers_of_kind("GP")[0]
    dmg = patient.dmg_holder is not None and patient.dmg_holder[:8] == gp.nihii[:8]
    other = dataclasses.replace(patient, bim=not patient.bim, bim_basis="automatic")
    price = nomenclature.price("101032", patient, "GP", day, dmg)
    other_price = nomenclature.price("101032", other, "GP", day, dmg)
    assert price.patient_fee != other_price.patient_fee  # else this test proves nothing
    period = patient.period_on(day)
    assert period is not None
    service = Service("0101032", day, patient.ssin, gp.nihii, int(price.reimbursement * 100),
                      int(price.patient_fee * 100))
    data = small_file(Invoice(patient.ssin, "1", period.mutuality, period.mutuality, 1, (service,)))
    options = CheckOptions(today=date(2026, 11, 23), population=world)
    assert check_file(data, options) == []
    changed = dataclasses.replace(
        world, patients=tuple(other if p is patient else p for p in world.patients)
    )
    found = check_file(data, dataclasses.replace(options, population=changed))
    # Every finding of the record: the other price changes both the amount and the share.
    assert [(r.index, r.code) for r in found] == [(3, "501940"), (3, "502742")]
    assert all(isinstance(r, Rejection) for r in found)


def test_a_malformed_unit_count_is_no_crash(world: Population) -> None:
    out = io.BytesIO()
    generate(out, world, Spec(invoices=20, error_rate=0.0, seed=9, today=TODAY))
    data = bytearray(out.getvalue())
    clean = check_file(bytes(data), CheckOptions(today=TODAY, population=world))
    # Zone 22 of every record 50 (positions 108-112): a letter where the sign goes.
    for start in range(OFFSET, len(data), 350):
        if data[start : start + 2] == b"50":
            data[start + 107] = ord("A")
    spoiled = check_file(bytes(data), CheckOptions(today=TODAY, population=world))
    assert len(spoiled) >= len(clean)  # answered with rejections (checksums), not an exception
