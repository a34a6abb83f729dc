"""Percentiles and the small sums ``make load`` prints; no numpy in the load client."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``p`` % of the values at or below it.

    Nearest rank (not interpolation) so a p99 is always a latency some message really
    had. ``nan`` for no values.
    """
    if not values:
        return math.nan
    if not 0 <= p <= 100:
        raise ValueError(f"percentile out of range: {p}")
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(value: float) -> str:
    """A latency in ms for the tables ("–" when there is none)."""
    return "–" if math.isnan(value) else f"{value:,.0f}"


def best_under(rates: dict[int, tuple[float, float]], p95_limit: float) -> tuple[int, float] | None:
    """(concurrency, msg/s) of the highest concurrency whose p95 is within ``p95_limit`` ms.

    ``rates`` maps each concurrency to (msg/s, p95 ms). None when no level meets it.
    """
    within = [(c, rate) for c, (rate, p95) in rates.items() if not math.isnan(p95) and p95 <= p95_limit]
    return max(within) if within else None
