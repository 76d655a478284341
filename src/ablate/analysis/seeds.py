"""Across seeds: how good is a variant, and is it really different from the baseline?

Per task and variant, for final_val_loss and final_val_acc: n_runs (all runs), n_used (the
runs with a final value), mean, std (ddof=1), min, max and the 95 % interval of the mean
(ci_lo, ci_hi): analysis/inference.py bounded_interval, inside the metric's range
(analysis/load.py BOUNDS: a loss >= 0, an accuracy in [0, 1]) and never narrower there than
the Student-t interval mean +- t(0.975, n-1) * std / sqrt(n); undefined below 2 runs.

Then the paired difference against the task's reference variant (the baseline): runs are
paired by seed, because seed s of every variant sees the same initialisation seed and data
order, so the pairing removes the noise the two runs share. diff = variant - baseline per
shared seed; diff_mean, its 95 % t-interval (diff_ci_lo, diff_ci_hi; a difference can
have either sign, so on the raw scale), the paired t-test's
two-sided p-value diff_p, the effect size diff_effect = mean / sd of the differences
(Cohen's d_z), and the exact sign-flip p-value diff_p_signflip as a complement (it cannot
go below 0.25 with 3 seeds). diff_p_adj is Holm's adjustment of diff_p over all of a task's
comparisons of one metric, and diff_significant is diff_p_adj < 0.05; diff_ci_lo_adj,
diff_ci_hi_adj is the t-interval at the level of that comparison's step of Holm's
step-down (inference.holm_levels), which excludes 0 exactly when diff_significant. Holm, not
Benjamini-Hochberg: a "significant" mark on a leaderboard is read as a claim about that one
variant, so the chance of any false mark (family-wise error) is what must stay at 5 %, and
Holm controls it whatever the dependence between comparisons (they share the baseline's
runs); with ~20 comparisons it costs little power against large effects (a -0.30 nat effect
with a 0.01 sd of differences over 3 seeds has p ~ 4e-4, 22 x 4e-4 < 0.05).

Diverged runs and NaN values are left out of these statistics (n_used and n_pairs say how
many remain): the last loss a diverged run logged is where it stopped, not a final loss.
The stability table counts them as failures instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ablate.analysis.inference import (
    ALPHA,
    bounded_interval,
    holm,
    holm_levels,
    paired_t,
    sign_flip_p,
    t_interval,
)
from ablate.analysis.load import BOUNDS, METRICS, reference_variant
from ablate.probes.status import statuses_where

COLUMNS = [
    "task",
    "variant",
    "metric",
    "n_runs",
    "n_used",
    "mean",
    "std",
    "min",
    "max",
    "ci_lo",
    "ci_hi",
    "reference",
    "n_pairs",
    "diff_mean",
    "diff_ci_lo",
    "diff_ci_hi",
    "diff_effect",
    "diff_p",
    "diff_p_signflip",
    "diff_p_adj",
    "diff_significant",
    "diff_ci_lo_adj",
    "diff_ci_hi_adj",
]
NO_DIFF = {
    "n_pairs": 0,
    "diff_mean": np.nan,
    "diff_ci_lo": np.nan,
    "diff_ci_hi": np.nan,
    "diff_effect": np.nan,
    "diff_p": np.nan,
    "diff_p_signflip": np.nan,
}


def usable(runs: pd.DataFrame, column: str) -> pd.DataFrame:
    """Runs whose `column` is a final value: finite, and from a run whose status says its
    loss is that of a finished run (probes/status.py STATUSES: not diverged, not oom)."""
    values = pd.to_numeric(runs[column], errors="coerce").astype(float)
    return runs[np.isfinite(values) & runs["status"].isin(statuses_where(final_loss=True))]


def seed_stats(runs: pd.DataFrame, baseline: str = "baseline") -> pd.DataFrame:
    rows, diffs = [], []  # diffs: each row's paired differences (empty: none)
    for task, task_runs in runs.groupby("task", sort=True):
        reference = reference_variant(list(task_runs["variant"].unique()), baseline)
        ref_runs = task_runs[task_runs["variant"] == reference]
        for variant, var_runs in task_runs.groupby("variant", sort=True):
            for metric, column in METRICS.items():
                row = {"task": task, "variant": variant, "metric": metric}
                values = usable(var_runs, column)[column]
                row |= summary(values, n_runs=len(var_runs), bounds=BOUNDS[metric])
                row |= {"reference": reference}
                # a difference with itself says nothing
                same = variant == reference
                diff = np.array([]) if same else paired_values(var_runs, ref_runs, column)
                row |= NO_DIFF if same else paired_difference(diff)
                rows.append(row)
                diffs.append(diff)
    table = pd.DataFrame(rows, columns=COLUMNS)
    family = table.groupby(["task", "metric"], sort=False)["diff_p"]
    table["diff_p_adj"] = family.transform(holm).astype(float)
    table["diff_significant"] = (table["diff_p_adj"] < ALPHA).to_numpy(bool)
    levels = family.transform(holm_levels).to_numpy(float)
    adjusted = [
        t_interval(d, 1 - a) if np.isfinite(a) else (np.nan, np.nan)
        for d, a in zip(diffs, levels, strict=True)
    ]
    table[["diff_ci_lo_adj", "diff_ci_hi_adj"]] = np.array(adjusted, dtype=float).reshape(-1, 2)
    return table


def summary(values, n_runs: int, bounds) -> dict:
    x = np.asarray(values, dtype=float)
    lo, hi = bounded_interval(x, bounds)
    return {
        "n_runs": n_runs,
        "n_used": int(x.size),
        "mean": float(x.mean()) if x.size else np.nan,
        "std": float(x.std(ddof=1)) if x.size > 1 else np.nan,
        "min": float(x.min()) if x.size else np.nan,
        "max": float(x.max()) if x.size else np.nan,
        "ci_lo": lo,
        "ci_hi": hi,
    }


def paired_values(variant_runs: pd.DataFrame, ref_runs: pd.DataFrame, column: str) -> np.ndarray:
    """variant - reference per seed that both have a usable value for, in seed order."""
    a = usable(variant_runs, column)[["seed", column]]
    b = usable(ref_runs, column)[["seed", column]]
    pairs = a.merge(b, on="seed", suffixes=("_v", "_r")).sort_values("seed")
    return (pairs[f"{column}_v"].astype(float) - pairs[f"{column}_r"].astype(float)).to_numpy()


def paired_difference(diff: np.ndarray) -> dict:
    """The paired statistics of the per-seed differences variant - reference."""
    lo, hi = t_interval(diff)
    p, effect = paired_t(diff)
    return {
        "n_pairs": int(diff.size),
        "diff_mean": float(diff.mean()) if diff.size else np.nan,
        "diff_ci_lo": lo,
        "diff_ci_hi": hi,
        "diff_effect": effect,
        "diff_p": p,
        "diff_p_signflip": sign_flip_p(diff),
    }
