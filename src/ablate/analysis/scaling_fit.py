"""Fitting L(N) = E + A * N^-alpha robustly, and saying honestly when E cannot be fitted.

The fit follows Chinchilla (Hoffmann et al. 2022): minimise a Huber loss (delta = 1e-3) of
the residuals in log space, log(E + A N^-alpha) - log L, with BFGS from a grid of starting
points, because the objective has flat valleys and one start can stall (Besiroglu et al.
2024). Parameters are (log E, log A, log alpha) so E, A and alpha stay positive (the pure
power law keeps alpha free: a negative alpha means loss grows with size).

A study has few sizes. Three parameters from four points leave one degree of freedom, and
the asymptote E trades off against alpha almost freely, so:
  - with fewer than MIN_SIZES_SATURATING distinct sizes, fit the pure power law
    L = A N^-alpha (E = 0), a straight line in log-log;
  - otherwise fit the saturating law, and fall back to the power law when E comes out
    indistinguishable from 0 (E < 2% of the smallest loss) or pinned at the data
    (E > 98% of the smallest loss: the curve is flat and alpha meaningless).
`model` and `reason` in the result record which law was used and why, and `identified`
whether the law may be extrapolated: only the saturating law fitted from >= 5 sizes with E
inside (2 %, 98 %) of the smallest loss, or the pure power law chosen at >= 5 sizes because
the fitted E came out ~ 0. With fewer sizes, or E pinned at the data, the power law's alpha
is only the local log-log slope over the measured sizes: a saturating truth with alpha 0.35
measured at 4 sizes gives a slope near 0.1 and an extrapolation that keeps falling.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

DELTA = 1e-3
MIN_SIZES_SATURATING = 5


@dataclass(frozen=True)
class Fit:
    model: str  # "saturating" (E + A N^-alpha) or "power_law" (A N^-alpha, E = 0)
    reason: str
    E: float
    A: float
    alpha: float
    rmse_log: float  # root mean square of the log residuals
    identified: bool = False  # may the law be extrapolated beyond the measured sizes?

    def predict(self, x) -> np.ndarray:
        return predict(self.E, self.A, self.alpha, x)


def predict(E: float, A: float, alpha: float, x) -> np.ndarray:
    return E + A * np.asarray(x, dtype=float) ** -alpha


def huber(r: np.ndarray, delta: float = DELTA) -> tuple[float, np.ndarray]:
    """Sum of Huber losses of the residuals, and its derivative per residual."""
    small = np.abs(r) <= delta
    value = np.where(small, 0.5 * r**2, delta * (np.abs(r) - 0.5 * delta))
    grad = np.where(small, r, delta * np.sign(r))
    return float(value.sum()), grad


def _objective_saturating(theta, logx, logy):
    e, a, b = theta  # log E, log A, log alpha
    alpha = np.exp(b)
    t = a - alpha * logx  # log of the A N^-alpha term
    pred = np.logaddexp(e, t)
    value, g = huber(pred - logy)
    w_e = np.exp(e - pred)  # d pred / d e; d pred / d a = 1 - w_e
    d_b = -(1 - w_e) * logx * alpha
    return value, np.array([(g * w_e).sum(), (g * (1 - w_e)).sum(), (g * d_b).sum()])


def _objective_power(theta, logx, logy):
    a, alpha = theta
    value, g = huber(a - alpha * logx - logy)
    return value, np.array([g.sum(), (g * -logx).sum()])


def _best(objective, starts, logx, logy):
    """Lowest objective over the starts. BFGS, not L-BFGS-B: on a 3-parameter problem the
    latter spends its time in multithreaded BLAS and is 10x slower on a busy machine; the
    parametrisation keeps E, A and alpha positive without bounds."""
    best = None
    for start in starts:
        res = minimize(objective, start, args=(logx, logy), jac=True, method="BFGS")
        if np.all(np.isfinite(res.x)) and (best is None or res.fun < best.fun):
            best = res
    return best


def fit_power_law(x, y, start: tuple[float, float] | None = None) -> Fit:
    """start: (A, alpha); default the least-squares line, exact when the data is a power law."""
    logx, logy = np.log(x), np.log(y)
    if start is None:
        slope, intercept = np.polyfit(logx, logy, 1)
        theta0 = [intercept, -slope]
    else:
        theta0 = [np.log(start[0]), start[1]]
    a, alpha = _best(_objective_power, [theta0], logx, logy).x
    rmse = float(np.sqrt(np.mean((a - alpha * logx - logy) ** 2)))
    return Fit("power_law", "", 0.0, float(np.exp(a)), float(alpha), rmse)


def fit_saturating(x, y, starts: list[tuple[float, float, float]] | None = None) -> Fit:
    """starts: (E, A, alpha) triples; default a grid (Chinchilla-style)."""
    logx, logy = np.log(x), np.log(y)
    if starts is None:
        starts = []
        for frac, alpha in itertools.product([0.1, 0.5, 0.9], [0.05, 0.2, 0.5, 1.0]):
            E = frac * y.min()  # A chosen so the curve passes through the smallest model
            starts.append((E, max(y[np.argmin(x)] - E, 1e-6) * x.min() ** alpha, alpha))
    thetas = [np.log(s) for s in starts]
    e, a, b = _best(_objective_saturating, thetas, logx, logy).x
    alpha = np.exp(b)
    rmse = float(np.sqrt(np.mean((np.logaddexp(e, a - alpha * logx) - logy) ** 2)))
    return Fit("saturating", "", float(np.exp(e)), float(np.exp(a)), float(alpha), rmse)


def fit_scaling(x, y) -> Fit:
    """Choose the law as the module docstring says, fit it, and record the reason."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError(f"scaling fit needs positive sizes and losses, got x={x}, y={y}")
    n_sizes = len(np.unique(x))
    if n_sizes < 2:
        raise ValueError(f"scaling fit needs at least 2 distinct sizes, got {n_sizes}")
    if n_sizes < MIN_SIZES_SATURATING:
        fit = fit_power_law(x, y)
        why = (
            f"{n_sizes} sizes < {MIN_SIZES_SATURATING}: E not identifiable; "
            "alpha is the local log-log slope, no extrapolation"
        )
        return _with_reason(fit, why, identified=False)
    sat = fit_saturating(x, y)
    floor_ratio = sat.E / y.min()  # where the asymptote sits relative to the data
    if floor_ratio < 0.02:
        why = f"fitted E={sat.E:.3g} ~ 0: pure power law"
        return _with_reason(fit_power_law(x, y), why, identified=True)
    if floor_ratio > 0.98:
        why = f"fitted E={sat.E:.3g} ~ smallest loss {y.min():.3g}: alpha not identifiable"
        why += "; alpha is the local log-log slope, no extrapolation"
        return _with_reason(fit_power_law(x, y), why, identified=False)
    return _with_reason(sat, f"{n_sizes} sizes: E + A N^-alpha", identified=True)


def refit(fit: Fit, x, y) -> Fit:
    """Refit the same law from the given fit's parameters (one start: for bootstrap resamples)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if fit.model == "power_law":
        return fit_power_law(x, y, start=(fit.A, fit.alpha))
    return fit_saturating(x, y, starts=[(fit.E, fit.A, fit.alpha)])


def _with_reason(fit: Fit, reason: str, identified: bool) -> Fit:
    return Fit(fit.model, reason, fit.E, fit.A, fit.alpha, fit.rmse_log, identified)
