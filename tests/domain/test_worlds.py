"""The world of each business date (docs/rules.md, "World"): built once per day, identities
fixed, situations anchored on the date."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest

from simulator.domain.population import SITUATIONS, build_population
from simulator.domain.worlds import Worlds

SIZE = len(SITUATIONS) + 5


def test_the_world_of_a_day_is_the_population_built_on_that_day() -> None:
    worlds = Worlds(seed=3, patients=SIZE, providers=8)
    day = date(2025, 10, 31)
    assert worlds.on(day) == build_population(3, SIZE, 8, day)


def test_moving_the_date_moves_the_situations_not_the_people() -> None:
    worlds = Worlds(seed=3, patients=SIZE, providers=8)
    before, after = worlds.on(date(2025, 8, 31)), worlds.on(date(2025, 11, 1))
    assert [p.ssin for p in before.patients] == [p.ssin for p in after.patients]
    assert [p.nihii for p in before.providers] == [p.nihii for p in after.providers]
    shift = date(2025, 11, 1) - date(2025, 8, 31)
    for situation in ("deceased", "not-insured", "mediprima-full", "mediprima-expired"):
        old, new = before.situation(situation), after.situation(situation)
        if old.death_date is not None:
            assert new.death_date == old.death_date + shift
        for was, now in zip(old.periods, new.periods, strict=True):
            assert now.end == (was.end + shift if was.end else None)
        for was_d, now_d in zip(old.cpas_decisions, new.cpas_decisions, strict=True):
            assert now_d.start == was_d.start + shift
    # Anchored on the transition date by definition: the old-path decision stays put.
    assert (
        before.situation("mediprima-old-path").cpas_decisions[0].start
        == after.situation("mediprima-old-path").cpas_decisions[0].start
    )


def test_each_day_is_built_once_and_only_a_few_are_kept() -> None:
    worlds = Worlds(seed=3, patients=SIZE, providers=8, keep=2)
    first = date(2025, 9, 1)
    built = worlds.on(first)
    assert worlds.on(first) is built
    worlds.on(first + timedelta(days=1))
    worlds.on(first)  # used again: the second day is now the oldest use
    worlds.on(first + timedelta(days=2))
    assert worlds.built_days() == (first, first + timedelta(days=2))
    assert worlds.on(first) is built


def test_concurrent_requests_of_a_new_day_share_one_build() -> None:
    worlds = Worlds(seed=3, patients=SIZE, providers=8)
    day = date(2026, 1, 5)
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(worlds.on(day))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(world) for world in seen}) == 1


def test_keep_must_hold_at_least_one_world() -> None:
    with pytest.raises(ValueError, match="keep"):
        Worlds(seed=3, patients=1, providers=1, keep=0)


def test_a_prefetched_day_is_ready_before_it_is_asked() -> None:
    worlds = Worlds(seed=3, patients=SIZE, providers=8)
    day = date(2026, 2, 1)
    worlds.prefetch(day)
    for _ in range(200):  # the background build takes a few milliseconds here
        if day in worlds.built_days():
            break
        threading.Event().wait(0.01)
    assert day in worlds.built_days()
    built = worlds.on(day)
    worlds.prefetch(day)  # already built: nothing more
    assert worlds.on(day) is built
