"""The population of each business day, built on demand and kept in a small LRU.

The synthetic world is anchored on the business date (insurability periods, CPAS decisions,
contracts, deaths: see population.py), so the simulator serves the world of `clock.today()`:
moving the clock moves the world, identities stay fixed (IDENTITY_EPOCH). A world costs about
0.15 s to build for 2,000 patients: each date is built once, under a lock, so concurrent
requests of the same new day wait for one build instead of racing (docs/rules.md, "World").
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from datetime import date

from simulator.domain.population import Population, build_population

DEFAULT_KEEP = 4  # a few days: today, and the dates a test or a harness jumps between


class Worlds:
    """`on(day)` gives the population of `day`, identical to build_population(..., day)."""

    def __init__(self, seed: int, patients: int, providers: int, keep: int = DEFAULT_KEEP) -> None:
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        self.seed = seed
        self.patients = patients
        self.providers = providers
        self._keep = keep
        self._built: OrderedDict[date, Population] = OrderedDict()
        self._lock = threading.Lock()
        self._pending: set[date] = set()  # days a prefetch thread is building

    def on(self, day: date) -> Population:
        found = self._built.get(day)  # the hot path: no lock once the day is built
        if found is not None:
            # Most recently used: evicted last (unless another thread evicted it meanwhile:
            # the world found is still the right answer).
            with contextlib.suppress(KeyError):
                self._built.move_to_end(day)
            return found
        with self._lock:
            found = self._built.get(day)
            if found is None:
                found = build_population(self.seed, self.patients, self.providers, day)
                self._built[day] = found
            self._built.move_to_end(day)
            while len(self._built) > self._keep:
                self._built.popitem(last=False)
            return found

    def prefetch(self, day: date) -> None:
        """Build `day` in a background thread if it is not built yet (once): the first request
        of a new business day then finds it ready instead of paying for the build."""
        with self._lock:
            if day in self._built or day in self._pending:
                return
            self._pending.add(day)

        def build() -> None:
            try:
                self.on(day)
            finally:
                with self._lock:
                    self._pending.discard(day)

        threading.Thread(target=build, name=f"world-{day}", daemon=True).start()

    def built_days(self) -> tuple[date, ...]:
        """The dates whose world is in memory, oldest use first (for the admin API, tests)."""
        return tuple(self._built)
