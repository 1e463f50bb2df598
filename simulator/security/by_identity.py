"""Memoise a function of long-lived objects by their identity, not their hash.

`x509.Certificate` hashes and compares by re-reading its whole DER encoding: about 13 µs for
each `hash()` or `==`, so an `lru_cache` keyed on two certificates costs 20 µs per call on the
request path. The simulator passes the same certificate objects again and again (its own keys,
the parsed signer certificate cached per DER), so identity is the right key there. Each entry
keeps its arguments alive, which is what makes their `id()` safe to reuse as a key.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def cache_by_identity(maxsize: int) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Cache results per tuple of positional arguments, compared with `is`.

    Keyword arguments bypass the cache. When full, the cache is emptied: the working set here
    is a handful of certificates, so eviction order does not matter.
    """

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        entries: dict[tuple[int, ...], tuple[tuple[Any, ...], R]] = {}

        @functools.wraps(function)
        def cached(*args: P.args, **kwargs: P.kwargs) -> R:
            if kwargs:
                return function(*args, **kwargs)
            key = tuple(map(id, args))
            entry = entries.get(key)
            if entry is not None and all(a is b for a, b in zip(entry[0], args, strict=True)):
                return entry[1]
            result = function(*args, **kwargs)  # no keywords here
            if len(entries) >= maxsize:
                entries.clear()
            entries[key] = (args, result)
            return result

        return cached

    return decorate
