"""The identity-keyed memo used where hashing a certificate would cost more than the work."""

from __future__ import annotations

from collections.abc import Callable

from simulator.security.by_identity import cache_by_identity

Work = Callable[..., tuple[object, object]]


class _Costly:
    """Equal to every other instance, like two parses of the same certificate."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Costly)

    def __hash__(self) -> int:
        return 0


def _counting(maxsize: int = 8) -> tuple[list[tuple[object, ...]], Work]:
    calls: list[tuple[object, ...]] = []

    @cache_by_identity(maxsize=maxsize)
    def work(a: object, b: object) -> tuple[object, object]:
        calls.append((a, b))
        return a, b

    return calls, work


def test_the_same_objects_are_computed_once() -> None:
    calls, work = _counting()
    first, second = _Costly(), _Costly()
    assert work(first, second) == work(first, second)
    assert len(calls) == 1


def test_an_equal_but_distinct_object_is_computed_again() -> None:
    calls, work = _counting()
    first, twin, second = _Costly(), _Costly(), _Costly()
    work(first, second)
    result = work(twin, second)
    assert len(calls) == 2
    assert result[0] is twin  # the answer is about the object passed, not an equal one


def test_keyword_arguments_bypass_the_cache() -> None:
    calls, work = _counting()
    first, second = _Costly(), _Costly()
    work(first, b=second)
    work(first, b=second)
    assert len(calls) == 2


def test_a_full_cache_starts_over_and_still_answers() -> None:
    calls, work = _counting(maxsize=2)
    objects = [_Costly() for _ in range(3)]
    for item in objects:
        work(item, item)
    assert work(objects[2], objects[2]) == (objects[2], objects[2])
    assert len(calls) == 3  # the last one survived the clearing
    work(objects[0], objects[0])
    assert len(calls) == 4
