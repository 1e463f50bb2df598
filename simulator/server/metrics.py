"""Prometheus metrics: requests, outcomes and latency per operation, scenario rule counters.

Each Simulator has its own registry (several simulators may run in one process, as in the
tests), fed once per exchange from the journal entry the pipeline writes. Scenario and clock
figures are read when scraped, so they always describe the running scenario and clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from simulator import __version__
from simulator.store.base import JournalEntry

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Answers take from a few ms (eTar) to seconds (scenario latency, big eFact posts).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ScenarioSnapshot:
    """What the scenario and clock collectors report at the next scrape."""

    def __init__(self) -> None:
        self.scenario = ""
        self.rules: Mapping[str, tuple[int, int]] = {}  # rule id -> (matched, fired)
        self.clock_offset_seconds = 0.0
        self.clock_frozen = False


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "mycarenet_requests",
            "Exchanges answered, by operation and outcome (ok, business-error, fault).",
            ["service", "operation", "outcome"],
            registry=self.registry,
        )
        self._codes = Counter(
            "mycarenet_response_codes",
            "Business error codes and SOAP fault codes answered, by operation.",
            ["service", "operation", "code"],
            registry=self.registry,
        )
        self._duration = Histogram(
            "mycarenet_request_duration_seconds",
            "Time from the request read to the answer written (scenario delays included).",
            ["service", "operation"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        # Label values -> their children, so that observe() skips prometheus' label checks.
        self._children: dict[
            tuple[str, str, str, str | None], tuple[Counter, Counter | None, Histogram]
        ] = {}
        self.snapshot = ScenarioSnapshot()
        self.registry.register(_SnapshotCollector(self.snapshot))

    def observe(self, entry: JournalEntry) -> None:
        """Count one journaled exchange (on the hot path: one dict look-up per label set)."""
        key = (entry.service, entry.operation, entry.outcome, entry.code)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self._requests.labels(entry.service, entry.operation, entry.outcome),
                self._codes.labels(entry.service, entry.operation, entry.code)
                if entry.code
                else None,
                self._duration.labels(entry.service, entry.operation),
            )
        requests, codes, duration = children
        requests.inc()
        if codes is not None:
            codes.inc()
        duration.observe(entry.duration_ms / 1000)

    def exposition(
        self,
        scenario: str,
        rules: Mapping[str, tuple[int, int]],
        simulated_now: datetime,
        clock_frozen: bool,
    ) -> bytes:
        """The text exposition, with the scenario and clock as they are now."""
        self.snapshot.scenario = scenario
        self.snapshot.rules = rules
        self.snapshot.clock_offset_seconds = (simulated_now - datetime.now(UTC)).total_seconds()
        self.snapshot.clock_frozen = clock_frozen
        return generate_latest(self.registry)


class _SnapshotCollector(Collector):
    def __init__(self, snapshot: ScenarioSnapshot) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snapshot = self._snapshot
        info = GaugeMetricFamily(
            "mycarenet_simulator_info",
            "The simulator's version and running scenario (value always 1).",
            labels=["version", "scenario"],
        )
        info.add_metric([__version__, snapshot.scenario], 1)
        yield info
        matched = CounterMetricFamily(
            "mycarenet_scenario_rule_matched",
            "Calls that met a rule's criteria within its limits, since the scenario started.",
            labels=["scenario", "rule"],
        )
        fired = CounterMetricFamily(
            "mycarenet_scenario_rule_fired",
            "Times a rule acted, since the scenario (re)started.",
            labels=["scenario", "rule"],
        )
        for rule, (matched_count, fired_count) in snapshot.rules.items():
            matched.add_metric([snapshot.scenario, rule], matched_count)
            fired.add_metric([snapshot.scenario, rule], fired_count)
        yield matched
        yield fired
        yield GaugeMetricFamily(
            "mycarenet_clock_offset_seconds",
            "Simulated time minus real time.",
            value=snapshot.clock_offset_seconds,
        )
        yield GaugeMetricFamily(
            "mycarenet_clock_frozen",
            "1 when the simulator clock is frozen.",
            value=1 if snapshot.clock_frozen else 0,
        )
