"""Scaling families: loss against model size, fitted laws, extrapolation, bottlenecks.

A scaling family varies ONE size key (SIZE_KEYS: d_model = width, n_layer = depth, d_ff,
ffn_ratio) with every other key fixed, per task, and spans at least MIN_SIZES distinct
non-embedding parameter counts. Width and depth never share a curve: a 2-D size grid gives
one width family per depth and one depth family per width. `family` names the key and what
is held fixed against the baseline, e.g. "d_model @ base" or "d_model @ n_layer=3".
Each variant is one point: the mean over seeds of final_val_loss (diverged and oom runs left out).
For x = n_params_non_embedding and x = flops (the runs table's training FLOPs, attention
included), fit L(x) = E + A x^-alpha as scaling_fit describes (the law used and why are
recorded), then:
  - alpha CI: bootstrap over seeds (each variant's seeds resampled with replacement,
    N_BOOT times, seeded), refitting the same law from the point estimate. It covers seed
    noise given the chosen law, not the choice of law (ci_covers says so);
  - loss at 4x and 10x the largest x, with the same bootstrap CI, only where the law is
    identified (scaling_fit: >= 5 sizes and a fitted floor E inside the data's range);
    otherwise NaN and `extrapolation` says "not identifiable" and why;
  - bottleneck: some larger model is not better (mean loss >= that of a smaller one);
    bottleneck_beyond_noise when the gap also exceeds 2 standard errors of the two means.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ablate.analysis.families import find_families
from ablate.analysis.load import LOSS
from ablate.analysis.scaling_fit import fit_scaling, refit
from ablate.analysis.seeds import usable

SIZE_KEYS = ("model.d_model", "model.n_layer", "model.d_ff", "model.ffn_ratio")
MIN_SIZES = 3
N_BOOT = 100  # refits are ~5 ms each; 3-seed resamples do not support finer tails anyway
SEED = 0
AXES = ["n_params_non_embedding", "flops"]
EXTRAPOLATE = {"loss_at_4x": 4.0, "loss_at_10x": 10.0}

CI_COVERS = "seed noise (bootstrap over seeds) given the fitted law; not the law's choice"

POINT_COLUMNS = [
    "task",
    "family",
    "size_key",
    "variant",
    "n_params_non_embedding",
    "flops",
    "loss_mean",
    "loss_std",
    "loss_min",
    "loss_max",
    "n_used",
]
FIT_COLUMNS = [
    *("task", "family", "size_key", "x", "model", "reason", "n_points", "n_sizes"),
    *("identified", "extrapolation", "ci_covers"),
    *("E", "A", "alpha", "rmse_log", "alpha_ci_lo", "alpha_ci_hi", "x_max"),
    *("loss_at_4x", "loss_at_4x_ci_lo", "loss_at_4x_ci_hi"),
    *("loss_at_10x", "loss_at_10x_ci_lo", "loss_at_10x_ci_hi"),
    *("bottleneck", "bottleneck_beyond_noise", "bottleneck_detail"),
]


def scaling_points(runs: pd.DataFrame, baseline: str = "baseline") -> pd.DataFrame:
    rows = []
    families = [(key, f) for key in SIZE_KEYS for f in find_families(runs, {key}, baseline)]
    for key, fam in families:
        for variant in fam.variants:
            group = runs[(runs["task"] == fam.task) & (runs["variant"] == variant)]
            loss = usable(group, LOSS)[LOSS].astype(float)
            if loss.empty:
                continue
            rows.append(
                {
                    "task": fam.task,
                    "family": f"{key.split('.', 1)[1]} @ {fam.name}",
                    "size_key": key,
                    "variant": variant,
                    "n_params_non_embedding": float(group["n_params_non_embedding"].median()),
                    "flops": float(pd.to_numeric(group["flops"]).median()),
                    "loss_mean": float(loss.mean()),
                    "loss_std": float(loss.std(ddof=1)) if len(loss) > 1 else np.nan,
                    "loss_min": float(loss.min()),
                    "loss_max": float(loss.max()),
                    "n_used": len(loss),
                }
            )
    points = pd.DataFrame(rows, columns=POINT_COLUMNS)
    sizes = points.groupby(["task", "family"])["n_params_non_embedding"].transform("nunique")
    return points[sizes >= MIN_SIZES].reset_index(drop=True)


def scaling_fits(runs: pd.DataFrame, points: pd.DataFrame, n_boot: int = N_BOOT) -> pd.DataFrame:
    rows = []
    for (task, family), pts in points.groupby(["task", "family"], sort=True):
        seeds = [_seed_losses(runs, task, v) for v in pts["variant"]]
        flags = bottleneck(pts)
        for axis in AXES:
            x, y = pts[axis].to_numpy(float), pts["loss_mean"].to_numpy(float)
            fit = fit_scaling(x, y)
            boot = _bootstrap(fit, x, seeds, n_boot)
            row = {"task": task, "family": family, "size_key": pts["size_key"].iloc[0]}
            row |= {"x": axis, "model": fit.model, "reason": fit.reason}
            row |= {"n_points": len(pts), "n_sizes": len(np.unique(x))}
            row |= {"identified": fit.identified, "ci_covers": CI_COVERS}
            row["extrapolation"] = (
                "identified" if fit.identified else "not identifiable: " + fit.reason
            )
            row |= {"E": fit.E, "A": fit.A, "alpha": fit.alpha, "rmse_log": fit.rmse_log}
            row |= _ci("alpha", boot[:, 0])
            row["x_max"] = float(x.max())
            for i, (name, factor) in enumerate(EXTRAPOLATE.items(), start=1):
                row[name] = float(fit.predict(factor * x.max())) if fit.identified else np.nan
                row |= _ci(name, boot[:, i] if fit.identified else np.array([]))
            rows.append(row | flags)
    return pd.DataFrame(rows, columns=FIT_COLUMNS)


def bottleneck(points: pd.DataFrame) -> dict:
    """Is some larger model not better than a smaller one? The worst such pair, described."""
    p = points.sort_values("n_params_non_embedding").reset_index(drop=True)
    se = (p["loss_std"] / np.sqrt(p["n_used"])).fillna(0.0).to_numpy()
    n, loss = p["n_params_non_embedding"].to_numpy(), p["loss_mean"].to_numpy()
    worst, beyond = None, False
    for i in range(len(p)):
        for j in range(i + 1, len(p)):
            gap = loss[j] - loss[i]
            if n[j] > n[i] and gap >= 0:
                noisy = np.isnan(p["loss_std"][i]) or np.isnan(p["loss_std"][j])
                beyond |= bool(not noisy and gap > 2 * np.hypot(se[i], se[j]))
                if worst is None or gap > worst[0]:
                    worst = (gap, i, j)
    if worst is None:
        return {"bottleneck": False, "bottleneck_beyond_noise": False, "bottleneck_detail": ""}
    gap, i, j = worst
    detail = (
        f"{p['variant'][j]} (N={n[j]:.3g}) is not better than {p['variant'][i]} "
        f"(N={n[i]:.3g}): loss {loss[j]:.4f} vs {loss[i]:.4f}"
    )
    return {"bottleneck": True, "bottleneck_beyond_noise": beyond, "bottleneck_detail": detail}


def _seed_losses(runs: pd.DataFrame, task: str, variant: str) -> np.ndarray:
    group = runs[(runs["task"] == task) & (runs["variant"] == variant)]
    return usable(group, LOSS)[LOSS].to_numpy(float)


def _bootstrap(fit, x: np.ndarray, seeds: list[np.ndarray], n_boot: int) -> np.ndarray:
    """n_boot x (alpha, loss_at_4x, loss_at_10x) from refits on seed-resampled means."""
    rng = np.random.default_rng(SEED)
    factors = np.array(list(EXTRAPOLATE.values()))
    out = np.full((n_boot, 1 + len(factors)), np.nan)
    if all(len(s) < 2 for s in seeds):  # one seed per size: nothing to resample
        return out
    for b in range(n_boot):
        y = np.array([s[rng.integers(0, len(s), len(s))].mean() for s in seeds])
        f = refit(fit, x, y)
        out[b] = [f.alpha, *f.predict(factors * x.max())]
    return out


def _ci(name: str, values: np.ndarray) -> dict:
    v = values[np.isfinite(values)]
    lo, hi = np.quantile(v, [0.025, 0.975]) if v.size else (np.nan, np.nan)
    return {f"{name}_ci_lo": float(lo), f"{name}_ci_hi": float(hi)}
