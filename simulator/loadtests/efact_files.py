"""The 920000 files a billing office sends in an eFact load run, and the rules they follow.

- Each user bills as its own third party (its own NIHII in record 10 zone 14).
- One file per insurer per business day (domain-rules 6.5: 100724), so at most one file per
  union a day for each user.
- Its sending number is the business day's number in the year (1..366): a sending number is
  used once a year per third party and insurer (100721), and a user sends one file a day to
  each insurer, so this number cannot repeat, whatever worker the user runs on.
- Only patients of the population's ordinary ("random") situations are billed, so that the
  files do not depend on the edge cases anchored on the day the simulator started.
- A user never bills a patient's service day twice (the insurer's ledger would refuse the
  second as 502255 or 500444): its files are drawn until they meet none of its earlier ones.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from datetime import date

from simulator.domain.efact_processing import billed_services
from simulator.domain.population import Population
from simulator.efact.generator import Spec, generate
from simulator.efact.layout import RECORD_LENGTH, SEGMENT200_LENGTH
from simulator.efact.parser import parse

UNIONS = ("100", "200", "300", "400", "500")
ORDINARY = "random"
_SEGMENTS = SEGMENT200_LENGTH + 160  # segments 200 and 300 before the records
_DRAWS = 20
_DRAW_STRIDE = 100_000_000  # above every user's seeds (slot * 1,000,000 + sequence)


@dataclass(frozen=True)
class BillingFile:
    content: bytes
    records: int
    union: str
    sending_number: int


def billing_population(population: Population, third_party: str) -> Population:
    """`population` whose first GP (the generator's third party) is `third_party`, with the
    ordinary patients only."""
    gps = population.providers_of_kind("GP")
    chosen = next((p for p in gps if p.nihii == third_party), None)
    if chosen is None:
        raise ValueError(f"{third_party} is not a GP of the population")
    others = tuple(p for p in population.providers if p is not chosen)
    patients = tuple(p for p in population.patients if p.situation == ORDINARY)
    return replace(population, providers=(chosen, *others), patients=patients)


def sending_number(day: date) -> int:
    return day.timetuple().tm_yday


def billing_file(
    population: Population,
    *,
    union: str,
    day: date,
    invoices: int,
    seed: int,
    billed: set[tuple[str, date]] | None = None,
) -> BillingFile:
    """A valid 920000 of `invoices` invoices for `union`'s members, dated `day`.

    `billed`: the (patient, service day) pairs this third party billed already, updated. The
    insurer judges a file against the patient's history (a second contact the same day by the
    same GP is 502255 or 500444), which an office would not bill: a file that meets one is
    drawn again with another seed."""
    number = sending_number(day)
    for draw in range(_DRAWS):
        out = io.BytesIO()
        spec = Spec(
            invoices=invoices, seed=seed + draw * _DRAW_STRIDE, today=day, insurer=union,
            sending_number=number,
        )  # fmt: skip
        generate(out, population, spec)
        content = out.getvalue()
        services = _patient_days(content, union)
        if billed is None or not services & billed:
            if billed is not None:
                billed |= services
            return BillingFile(content, (len(content) - _SEGMENTS) // RECORD_LENGTH, union, number)
    raise RuntimeError(f"no file of {invoices} invoices for {union} on {day} without a patient "
                       f"day billed already, in {_DRAWS} draws")  # fmt: skip


def _patient_days(content: bytes, union: str) -> set[tuple[str, date]]:
    _, records = parse(content)
    return {
        (item.service.patient, item.service.day)
        for item in billed_services(records, union, "load")
    }
