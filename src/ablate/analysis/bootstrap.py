"""Seeded percentile bootstrap: confidence intervals that are the same on every rerun.

Each call builds its own numpy Generator from an explicit seed, so a result never depends on
the order in which other intervals were computed (no global RNG). With a handful of seeds
(3 is typical here) a bootstrap interval is crude and tends to be too narrow; it is reported
as what it is, next to the raw per-seed values.
"""

from __future__ import annotations

import numpy as np

N_BOOT = 2000
LEVEL = 0.95
SEED = 0


def bootstrap_ci(
    values, n_boot: int = N_BOOT, level: float = LEVEL, seed: int = SEED
) -> tuple[float, float]:
    """Percentile CI of the mean of `values` (NaNs dropped); (nan, nan) with fewer than 2."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    tail = (1 - level) / 2
    lo, hi = np.quantile(means, [tail, 1 - tail])
    return float(lo), float(hi)


def excludes_zero(lo: float, hi: float) -> bool:
    """True when a CI lies entirely on one side of zero (False if the CI is undefined)."""
    return bool(np.isfinite(lo) and np.isfinite(hi) and (lo > 0 or hi < 0))
