"""Across seeds: how good is a variant, and is it really different from the baseline?

Per task and variant, for final_val_loss and final_val_acc: number of runs, mean, std
(ddof=1), min, max and a seeded bootstrap 95% CI of the mean. Then the paired difference
against the task's reference variant (the baseline): runs are paired by seed, because
seed s of every variant sees the same initialisation seed and data order, so the pairing
removes the part of the noise the two runs share. diff = variant - baseline per seed, with a
bootstrap CI of its mean and whether that CI excludes zero.

Diverged runs are left out of these statistics: the last loss they logged is where training
stopped, not a final loss. The stability table counts them instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ablate.analysis.bootstrap import bootstrap_ci, excludes_zero
from ablate.analysis.load import reference_variant

METRICS = {"val_loss": "final_val_loss", "val_acc": "final_val_acc"}

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
    "diff_excludes_zero",
]


def usable(runs: pd.DataFrame, column: str) -> pd.DataFrame:
    """Runs whose `column` is a final value: finite and not from a diverged run."""
    values = pd.to_numeric(runs[column], errors="coerce").astype(float)
    return runs[np.isfinite(values) & (runs["status"] != "diverged")]


def seed_stats(runs: pd.DataFrame, baseline: str = "baseline") -> pd.DataFrame:
    rows = []
    for task, task_runs in runs.groupby("task", sort=True):
        reference = reference_variant(list(task_runs["variant"].unique()), baseline)
        ref_runs = task_runs[task_runs["variant"] == reference]
        for variant, var_runs in task_runs.groupby("variant", sort=True):
            for metric, column in METRICS.items():
                row = {"task": task, "variant": variant, "metric": metric}
                row |= _summary(var_runs, column)
                row |= {"reference": reference}
                if variant == reference:  # a difference with itself says nothing
                    row |= {
                        "n_pairs": 0,
                        "diff_mean": np.nan,
                        "diff_ci_lo": np.nan,
                        "diff_ci_hi": np.nan,
                        "diff_excludes_zero": False,
                    }
                else:
                    row |= paired_difference(var_runs, ref_runs, column)
                rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def _summary(runs: pd.DataFrame, column: str) -> dict:
    x = usable(runs, column)[column].astype(float).to_numpy()
    lo, hi = bootstrap_ci(x)
    return {
        "n_runs": len(runs),
        "n_used": int(x.size),
        "mean": float(x.mean()) if x.size else np.nan,
        "std": float(x.std(ddof=1)) if x.size > 1 else np.nan,
        "min": float(x.min()) if x.size else np.nan,
        "max": float(x.max()) if x.size else np.nan,
        "ci_lo": lo,
        "ci_hi": hi,
    }


def paired_difference(variant_runs: pd.DataFrame, ref_runs: pd.DataFrame, column: str) -> dict:
    """Mean over shared seeds of (variant - reference), with a bootstrap CI over the pairs."""
    a = usable(variant_runs, column)[["seed", column]]
    b = usable(ref_runs, column)[["seed", column]]
    pairs = a.merge(b, on="seed", suffixes=("_v", "_r"))
    diff = (pairs[f"{column}_v"].astype(float) - pairs[f"{column}_r"].astype(float)).to_numpy()
    lo, hi = bootstrap_ci(diff)
    return {
        "n_pairs": int(diff.size),
        "diff_mean": float(diff.mean()) if diff.size else np.nan,
        "diff_ci_lo": lo,
        "diff_ci_hi": hi,
        "diff_excludes_zero": excludes_zero(lo, hi),
    }
