"""Small-sample inference: intervals of a metric's mean inside its range, t-intervals of
differences, paired t-tests, Holm's adjustment with the intervals that agree with it.

A study has 2-10 seeds per variant. The percentile bootstrap of the mean returns [min, max]
of the seeds at n <= 3 and covers 50-84 % at n = 2..5, so the intervals here are built on
Student's t, mean +- t(1 - a/2, n - 1) * sd / sqrt(n): exact under normal seed noise
(simulated 95.0 % at n = 3 and 10: tests/test_analysis_inference.py), 88-90 % under
exponential noise. Differences of two variants (paired by seed) can have either sign and
get exactly that (t_interval).

The mean of a metric with a range (bounded_interval; the ranges are analysis/load.py
BOUNDS: losses and other positive quantities >= 0, accuracies in [0, 1]). The point
estimate stays the seeds' arithmetic mean (the leaderboard orders by it, a difference of
variants is one of means). Its interval is the hull of two intervals:
  (a) the t-interval cut to the range. The true mean lies in the range, so the cut never
      loses coverage; (a) covers as often as the t-interval did and contains the mean;
  (b) from 3 seeds on, the t-interval on a scale where the range is the whole line, mapped
      back: z = log(d + c) of each seed's distance d from the bound (losses), or
      z = log((d0 + c0) / (d1 + c1)) of its distances from 0 and 1 (accuracies), each c
      SHIFT = 0.5 times the seeds' mean distance. Near a bound noise is skewed away from
      it: seeds that missed the long tail have a low mean and a low sd, so (a) is short on
      the far side; (b) is not.
(b) alone is an interval of a median-like centre (the back-transformed mean of z), which
skewed noise puts nearer the bound than the mean, hence the hull with (a). The shift keeps
z finite on the bound (a loss of exactly 0, an accuracy of 0 or 1: no epsilon to choose,
no jump between 0 and 1e-9) and puts a seed on the bound log 3 from the mean's z, as far
as a seed at 4x the mean's distance on the far side. Unshifted (the plain log scale, an
interval of the geometric mean) one seed near the bound stretches it without limit:
losses [0.0001, 0.0002, 0.9] get an upper end of 770 nats, here 4.5 (the t-interval:
[-0.99, 1.59]). A smaller SHIFT covers skewed noise more often at a larger width
(bench/bench_coverage.py prints the trade-off). With 2 seeds the interval is (a) alone
(t = 12.7 in an exponent: two seeds a factor 2 apart would give a factor 81 either way);
with 1 seed there is none (NaN).
Coverage of the true mean by the t-interval and by this one (bench/bench_coverage.py,
20000 draws; at n = 2 they are the same; last column: t-intervals leaving the range, n = 3):
  noise                                  n = 3 t/new    n = 5 t/new    t outside
  loss lognormal, CV 5 %                 0.949 0.949    0.954 0.955    0.00
  loss lognormal, CV 50 %                0.928 0.941    0.922 0.929    0.46
  loss gamma, mean 0.3, sd 0.6           0.705 0.828    0.742 0.755    0.98
  loss max(0, N(0.3, 0.6)) (zeros)       0.891 0.937    0.908 0.920    0.89
  accuracy beta, mean 0.05 (sd 0.048)    0.893 0.940    0.889 0.909    0.86
  accuracy beta, mean 0.5 (sd 0.11)      0.948 0.950    0.949 0.950    0.06
  accuracy beta, mean 0.97 (sd 0.037)    0.842 0.918    0.848 0.867    0.93
So: never outside the range, never less coverage than the t-interval, near-nominal at
3 seeds except under the heaviest skew (gamma, CV 2); at 5 seeds, where t is smaller, the
scale gains less and skewed noise still costs 2-20 points. Every interval is of the mean.

Intervals beside a Holm-adjusted p (holm_levels): comparison j of Holm's step-down (p
ascending, m tests) gets the t-interval at level 1 - ALPHA / (m - j + 1), the level its p
is tested at, so it excludes 0 exactly when that step rejects. The one gap: Holm stops at
its first non-rejection, so a later comparison whose p is below its own step's level is
not rejected (its adjusted p, a running maximum, is >= ALPHA) while its interval at that
level would exclude 0. Closed here: from the first non-rejected step on, every interval is
at that step's level, which holds 0 for every later comparison (larger p). "Adjusted p <
ALPHA" and "adjusted interval excludes 0" then agree for every comparison. They are not
simultaneous intervals (jointly they cover less than 95 % once several are rejected;
Strassburger & Bretz 2008 give ones that do, with an end at 0 for each rejection).
The exact sign-flip test is reported beside the paired t-test only as a complement: with n
pairs its smallest p-value is 2 / 2^n (0.25 at n = 3), so it can never reject at 3 seeds.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy import special, stats

# The one error rate of the lab's statistics: tests are significant below ALPHA, intervals
# cover LEVEL, and the ties with the best rule out the true best with probability <= ALPHA.
ALPHA = 0.05
LEVEL = 1 - ALPHA
# bounded_interval: the transformed interval (b) needs 3 values (with 1 degree of freedom
# t = 12.7 becomes an exponent); its shift, a fraction of the mean's distance from the bound;
# how far outside its range a value may be by rounding (clipped) before it is an error
MIN_TRANSFORMED = 3
SHIFT = 0.5
RANGE_TOL = 1e-6


def finite(values) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    return x[np.isfinite(x)]


def t_interval(values, level: float = LEVEL) -> tuple[float, float]:
    """Student-t interval of the mean of the finite `values`; (nan, nan) with fewer than 2.
    For differences and other unbounded quantities; a metric's mean: bounded_interval."""
    lo, hi = t_rows(finite(values)[None, :], level)
    return float(lo[0]), float(hi[0])


def t_rows(x: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """The t-interval of each row's mean of a (rows, n) array of finite values."""
    n = x.shape[1]
    if n < 2:
        return np.full(len(x), np.nan), np.full(len(x), np.nan)
    mean, sd = x.mean(axis=1), x.std(axis=1, ddof=1)
    half = stats.t.ppf(0.5 + level / 2, n - 1) * sd / np.sqrt(n)
    return mean - half, mean + half


def bounded_interval(values, bounds, level: float = LEVEL) -> tuple[float, float]:
    """The interval of the mean of the finite `values` of a metric whose values lie in
    `bounds` (load.BOUNDS), inside them; (nan, nan) with fewer than 2 values."""
    lo, hi = bounded_rows(finite(values)[None, :], bounds, level)
    return float(lo[0]), float(hi[0])


def bounded_rows(x: np.ndarray, bounds, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """bounded_interval of each row of a (rows, n) array of finite values (the module
    docstring states the rule; bench/bench_coverage.py measures it)."""
    a, b = (float(v) for v in bounds)
    x = np.asarray(x, dtype=float)
    if x.size and (x.min() < a - RANGE_TOL or x.max() > b + RANGE_TOL):
        raise ValueError(f"values outside the metric's range [{a}, {b}]: {x.min()}..{x.max()}")
    x = np.clip(x, a, b)
    t_lo, t_hi = t_rows(x, level)
    lo, hi = np.clip(t_lo, a, b), np.clip(t_hi, a, b)  # (a)
    if x.shape[1] < MIN_TRANSFORMED or not (np.isfinite(a) or np.isfinite(b)):
        return lo, hi
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ends = np.sort(np.clip(_transformed(x, a, b, level), a, b), axis=0)  # (b)
    keep = np.isfinite(ends).all(axis=0)  # every value on the bound: no spread, (a) alone
    return np.where(keep, np.fmin(lo, ends[0]), lo), np.where(keep, np.fmax(hi, ends[1]), hi)


def _transformed(x: np.ndarray, a: float, b: float, level: float) -> list[np.ndarray]:
    """(b): the t-interval on the shifted log or logit scale, mapped back (unclipped)."""
    if np.isfinite(a) and np.isfinite(b):
        u = (x - a) / (b - a)
        c0 = SHIFT * u.mean(axis=1, keepdims=True)
        c1 = SHIFT * (1 - u.mean(axis=1, keepdims=True))
        ends = t_rows(np.log(u + c0) - np.log(1 - u + c1), level)
        # u + c0 = e^z (1 - u + c1), solved for u
        return [
            a + (b - a) * (special.expit(z) * (1 + c0[:, 0] + c1[:, 0]) - c0[:, 0]) for z in ends
        ]
    sign, edge = (1.0, a) if np.isfinite(a) else (-1.0, b)  # one bound: distance from it
    u = sign * (x - edge)
    c = SHIFT * u.mean(axis=1, keepdims=True)
    return [edge + sign * (np.exp(z) - c[:, 0]) for z in t_rows(np.log(u + c), level)]


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


def holm_levels(p, alpha: float = ALPHA) -> np.ndarray:
    """Per test, the error rate of the interval that agrees with Holm's decision on it
    (module docstring): alpha / (m - j + 1) at step j of the step-down (p ascending, m
    finite p-values), from Holm's first non-rejection on that step's; NaN where p is NaN."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    levels = alpha / (order.size - np.arange(order.size))
    stop = np.flatnonzero(p[order] >= levels)  # Holm stops at the first of these
    if stop.size:
        levels[stop[0] :] = levels[stop[0]]
    out[order] = levels
    return out
