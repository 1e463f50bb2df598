"""Apply a scenario to calls: which rule (if any) fires, and how long an answer waits.

Deterministic by construction: counters are per rule, every probabilistic rule and every
endpoint has its own generator seeded from the engine seed and its name, and time comes from
the simulator clock. So the same calls in the same order give the same decisions and delays.
Nothing here awaits: a decision is taken in one step, which keeps it consistent under asyncio;
a lock makes it safe from threads too. The counters live in a `Tally` (scenarios/tally.py): in
memory, or, for `serve --workers N` on PostgreSQL, shared by every worker (row-locked), so
"the n-th call" means the n-th call the simulator got, whichever worker took it.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from simulator.domain.identifiers import union_of
from simulator.scenarios.loader import normalise_code
from simulator.scenarios.model import Action, Match, Rule, Scenario, ValueMatch
from simulator.scenarios.tally import LocalTally, Tally
from simulator.scenarios.tally import RuleState as RuleState  # re-exported (scenarios/__init__)


@dataclass(frozen=True)
class CallFacts:
    """What the pipeline knows about one call once it is decoded; None = not known/applicable."""

    service: str
    operation: str
    provider_nihii: str | None = None
    patient_ssin: str | None = None
    codes: tuple[str, ...] = ()  # nomenclature codes of the request
    insurer: str | None = None  # mutuality (or union) of the patient
    message_name: str | None = None  # GenAsync message name, e.g. HCPFAC
    at: datetime | None = None  # simulated instant of the call; None = the engine's clock now


@dataclass(frozen=True)
class Decision:
    rule_id: str
    action: Action


class ScenarioEngine:
    def __init__(
        self,
        scenario: Scenario,
        clock_now_fn: Callable[[], datetime],
        seed: int | str = 0,
        *,
        no_delay: bool = False,
        tally: Tally | None = None,
    ) -> None:
        self.scenario = scenario
        self.seed = seed
        self.no_delay = (
            no_delay  # --no-delay: latency models answer at once (delay rules still act)
        )
        self._now = clock_now_fn
        self._started = clock_now_fn()
        self._lock = threading.Lock()
        # The rules' counters: in memory, or shared by every worker (store/shared_counters.py).
        self._tally: Tally = tally or LocalTally()
        self._draws = {rule.id: _rule_rng(rule, seed) for rule in scenario.rules}
        self._latency_rngs: dict[tuple[str, str], random.Random] = {}

    def decide(self, call: CallFacts) -> Decision | None:
        """The first rule, in file order, that fires for `call`; None = answer normally.

        Every armed rule whose criteria hold counts the call (and draws its chance) even when
        an earlier rule wins, so "the n-th call" of a rule means the n-th call it matches,
        whatever the other rules do.
        """
        now = call.at if call.at is not None else self._now()
        candidates = [rule for rule in self.scenario.rules if _meets(rule.match, call)]
        if not candidates:
            return None  # no counter to touch (nor to fetch from a shared tally)
        chosen: Rule | None = None
        with self._lock, self._tally.hold([rule.id for rule in candidates]) as states:
            for rule in candidates:
                state = states[rule.id]
                if not self._armed(rule, state, now):
                    continue
                state.matched += 1
                if rule.match.nth is not None and state.matched != rule.match.nth:
                    continue
                probability = rule.match.probability
                if probability is not None and self._draws[rule.id].random() >= probability:
                    continue
                if chosen is None:
                    chosen = rule
            if chosen is None:
                return None
            states[chosen.id].fired += 1
        return Decision(chosen.id, chosen.action)

    def delay_for(self, service: str, operation: str) -> float:
        """Seconds to wait before answering `operation`, drawn from its latency model."""
        if self.no_delay:
            return 0.0
        model = self.scenario.latency.model_for(service, operation)
        if model is None:
            return 0.0
        with self._lock:
            rng = self._latency_rngs.get((service, operation))
            if rng is None:
                # One generator per endpoint: its draws do not depend on traffic elsewhere.
                rng = random.Random(f"{self.seed}:latency:{service}:{operation}")
                self._latency_rngs[(service, operation)] = rng
            return model.sample(rng)

    def states(self) -> dict[str, RuleState]:
        """A copy of every rule's counters, for the journal and the admin API."""
        with self._lock:
            counted = self._tally.states()
        return {rule.id: counted.get(rule.id, RuleState()) for rule in self.scenario.rules}

    def _armed(self, rule: Rule, state: RuleState, now: datetime) -> bool:
        limit = rule.limit
        if limit.count is not None and state.fired >= limit.count:
            return False
        if limit.not_before is not None and now < limit.not_before:
            return False
        if limit.not_after is not None and now > limit.not_after:
            return False
        if limit.within_seconds is not None:
            return now - self._started <= timedelta(seconds=limit.within_seconds)
        return True


def _rule_rng(rule: Rule, seed: int | str) -> random.Random:
    # String seeds hash the same in every process (unlike hash()), so draws replay exactly.
    own = rule.match.seed
    return random.Random(f"rule:{own}" if own is not None else f"{seed}:rule:{rule.id}")


def _meets(match: Match, call: CallFacts) -> bool:
    return (
        _accepts(match.service, call.service)
        and _accepts(match.operation, call.operation)
        and _accepts(match.provider_nihii, call.provider_nihii)
        and _accepts(match.patient_ssin, call.patient_ssin)
        and _accepts(match.message_name, call.message_name)
        and _accepts_insurer(match.insurer, call.insurer)
        and _accepts_codes(match.code, call.codes)
    )


def _accepts(criterion: ValueMatch | None, fact: str | None) -> bool:
    return criterion is None or criterion.accepts(fact)


def _accepts_insurer(criterion: ValueMatch | None, insurer: str | None) -> bool:
    if criterion is None:
        return True
    if not insurer:
        return False
    # A union code (300) stands for all its mutualities (301..399).
    return criterion.accepts(insurer) or criterion.accepts(union_of(insurer))


def _accepts_codes(criterion: ValueMatch | None, codes: tuple[str, ...]) -> bool:
    return criterion is None or any(criterion.accepts(normalise_code(code)) for code in codes)
