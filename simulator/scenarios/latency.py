"""Latency models: how long an endpoint takes to answer, drawn from a seeded generator.

Figures are given in milliseconds (as people quote them) and drawn in seconds (what
asyncio.sleep takes). The models are pure: the caller owns the random generator, so a run
with the same seed draws the same delays.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from statistics import NormalDist

# z such that P(Z <= z) = 0.99 for a standard normal: ties a lognormal's p99 to its sigma.
_Z99 = NormalDist().inv_cdf(0.99)


@dataclass(frozen=True)
class Fixed:
    ms: float

    def sample(self, rng: random.Random) -> float:
        return self.ms / 1000


@dataclass(frozen=True)
class Uniform:
    low_ms: float
    high_ms: float

    def sample(self, rng: random.Random) -> float:
        return rng.uniform(self.low_ms, self.high_ms) / 1000


@dataclass(frozen=True)
class Normal:
    """Normal delays; a negative draw is answered at once (a delay cannot be negative)."""

    mean_ms: float
    stdev_ms: float

    def sample(self, rng: random.Random) -> float:
        return max(0.0, rng.gauss(self.mean_ms, self.stdev_ms)) / 1000


@dataclass(frozen=True)
class LogNormal:
    """Right-skewed delays as real services show, given by their median and 99th percentile."""

    median_ms: float
    p99_ms: float

    @property
    def mu(self) -> float:
        return math.log(self.median_ms)

    @property
    def sigma(self) -> float:
        return math.log(self.p99_ms / self.median_ms) / _Z99

    def quantile_ms(self, q: float) -> float:
        """The configured q-quantile (0 < q < 1), to compare measured figures against."""
        return math.exp(self.mu + self.sigma * NormalDist().inv_cdf(q))

    def sample(self, rng: random.Random) -> float:
        return rng.lognormvariate(self.mu, self.sigma) / 1000


LatencyModel = Fixed | Uniform | Normal | LogNormal

# The `model:` each one has in a scenario file, with the figures it needs.
MODEL_FIELDS: dict[str, tuple[type[LatencyModel], tuple[str, ...]]] = {
    "fixed": (Fixed, ("ms",)),
    "uniform": (Uniform, ("low_ms", "high_ms")),
    "normal": (Normal, ("mean_ms", "stdev_ms")),
    "lognormal": (LogNormal, ("median_ms", "p99_ms")),
}


@dataclass(frozen=True)
class EndpointLatency:
    service: str
    operation: str | None  # None: every operation of the service
    model: LatencyModel


@dataclass(frozen=True)
class LatencyTable:
    default: LatencyModel | None = None
    endpoints: tuple[EndpointLatency, ...] = ()

    def model_for(self, service: str, operation: str) -> LatencyModel | None:
        """The most specific model: the operation's, else the service's, else the default."""
        by_service = None
        for entry in self.endpoints:
            if entry.service != service:
                continue
            if entry.operation == operation:
                return entry.model
            if entry.operation is None and by_service is None:
                by_service = entry.model
        return by_service if by_service is not None else self.default
