"""Latency models: the figures drawn are the figures configured (fixed seeds: no flakes)."""

from __future__ import annotations

import random

import pytest

from simulator.scenarios import Fixed, LatencyTable, LogNormal, Normal, Uniform
from simulator.scenarios.latency import EndpointLatency

N = 50_000


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[int(q * (len(ordered) - 1))]


@pytest.mark.parametrize(("median", "p99"), [(50, 200), (50, 120), (300, 950)])
def test_lognormal_median_and_p99_are_the_configured_ones(median: float, p99: float) -> None:
    model = LogNormal(median, p99)
    rng = random.Random(20260101)
    samples = [model.sample(rng) * 1000 for _ in range(N)]
    assert percentile(samples, 0.5) == pytest.approx(median, rel=0.03)
    assert percentile(samples, 0.99) == pytest.approx(p99, rel=0.05)
    assert model.quantile_ms(0.99) == pytest.approx(p99)


def test_uniform_stays_in_its_bounds_and_spreads() -> None:
    rng = random.Random(7)
    samples = [Uniform(10, 30).sample(rng) for _ in range(N)]
    assert min(samples) >= 0.010 and max(samples) <= 0.030
    assert percentile(samples, 0.5) == pytest.approx(0.020, rel=0.03)


def test_normal_is_never_negative_and_keeps_its_mean() -> None:
    rng = random.Random(7)
    samples = [Normal(100, 20).sample(rng) for _ in range(N)]
    assert sum(samples) / N == pytest.approx(0.100, rel=0.01)
    clipped = [Normal(5, 20).sample(rng) for _ in range(1000)]
    assert min(clipped) == 0.0


def test_fixed_is_fixed() -> None:
    assert Fixed(12).sample(random.Random(0)) == 0.012


def test_model_for_prefers_operation_then_service_then_default() -> None:
    table = LatencyTable(
        default=Fixed(1),
        endpoints=(
            EndpointLatency("eattest", None, Fixed(2)),
            EndpointLatency("eattest", "SendAttestation", Fixed(3)),
        ),
    )
    assert table.model_for("eattest", "SendAttestation") == Fixed(3)
    assert table.model_for("eattest", "CancelAttestation") == Fixed(2)
    assert table.model_for("etar", "TarificationConsultation") == Fixed(1)
    assert LatencyTable().model_for("etar", "x") is None
