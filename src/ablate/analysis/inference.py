"""Small-sample inference: t-intervals, paired t-tests, Holm's adjustment, sign-flip tests.

A study has 2-10 seeds per variant. The percentile bootstrap of the mean returns [min, max]
of the seeds at n <= 3 and covers 50-84 % at n = 2..5, so every interval here is Student's
t: mean +- t(1 - a/2, n - 1) * sd / sqrt(n), exact under normal seed noise at every n >= 2
(simulated coverage 95.0 % at n = 3 and n = 10: tests/test_analysis_inference.py; under
skewed (exponential) noise it is 88 % at n = 3 and 90 % at n = 10, under lognormal
(sigma 1) noise 84 %).
The exact sign-flip test is reported beside the paired t-test only as a complement: with n
pairs its smallest p-value is 2 / 2^n (0.25 at n = 3), so it can never reject at 3 seeds.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy import stats

# The one error rate of the lab's statistics: tests are significant below ALPHA, intervals
# cover LEVEL, and the ties with the best rule out the true best with probability <= ALPHA.
ALPHA = 0.05
LEVEL = 1 - ALPHA


def finite(values) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    return x[np.isfinite(x)]


def t_interval(values, level: float = LEVEL) -> tuple[float, float]:
    """Student-t interval of the mean of the finite `values`; (nan, nan) with fewer than 2."""
    x = finite(values)
    if x.size < 2:
        return float("nan"), float("nan")
    half = stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
    return float(x.mean() - half), float(x.mean() + half)


def paired_t(diff) -> tuple[float, float]:
    """(two-sided p-value of mean(diff) = 0, effect size d_z = mean / sd) by the paired t-test.

    With fewer than 2 pairs both are NaN. With sd = 0 the evidence is all-or-nothing: p = 0
    (d_z = +-inf) for a nonzero mean, p = 1 (d_z = 0) when every difference is 0."""
    d = finite(diff)
    if d.size < 2:
        return float("nan"), float("nan")
    mean, sd = d.mean(), d.std(ddof=1)
    if sd == 0:
        return (0.0, float(np.sign(mean) * np.inf)) if mean != 0 else (1.0, 0.0)
    t = mean / (sd / np.sqrt(d.size))
    return float(2 * stats.t.sf(abs(t), d.size - 1)), float(mean / sd)


def sign_flip_p(diff) -> float:
    """Exact two-sided sign-flip (randomisation) p-value of mean(diff) = 0; NaN below 2 pairs.

    Every one of the 2^n sign patterns is enumerated (n <= 16), so no random draws."""
    d = finite(diff)
    if d.size < 2 or d.size > 16:
        return float("nan")
    signs = np.array(list(itertools.product((1.0, -1.0), repeat=d.size)))
    means = np.abs(signs @ d) / d.size
    return float(np.mean(means >= abs(d.mean()) - 1e-12))


def holm(p) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN stays NaN and is not counted as a test).

    Sorted ascending, p_(i) becomes max over j <= i of min(1, (m - j + 1) p_(j)); rejecting
    adjusted p <= a keeps the family-wise error rate <= a under any dependence."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    m = order.size
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out
