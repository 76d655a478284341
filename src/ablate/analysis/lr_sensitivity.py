"""LR sensitivity (Wortsman et al. 2023): how much loss a learning-rate sweep gives away.

For a family of variants that differ only in train.lr (at least MIN_LRS distinct values):
  l0       = the loss at initialisation: median initial_loss of the family's runs
  loss(lr) = mean over seeds of each run's final_val_loss capped at l0, i.e.
             min(final_val_loss, l0); a diverged run (or a NaN loss) counts as l0
  l*       = min over the lr grid of loss(lr)
  LR sensitivity = mean over the lr grid of [loss(lr) - l*]
0 means every lr in the sweep is as good as the best one; the larger, the more a wrong lr
costs. The grid is whatever the study ran (the paper uses 3e-4 ... 3e-1 on a log grid), so
compare sensitivities only between families swept over the same grid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ablate.analysis.families import find_families
from ablate.analysis.load import LOSS
from ablate.probes.status import statuses_where

LR_KEY = "train.lr"
MIN_LRS = 3

SUMMARY_COLUMNS = [
    "task",
    "family",
    "variants",
    "n_lr",
    "lr_min",
    "lr_max",
    "best_lr",
    "l0",
    "l_star",
    "sensitivity",
    "sensitivity_seed_std",
    "n_seeds_complete",
    "n_diverged",
]
CURVE_COLUMNS = [
    "task",
    "family",
    "variant",
    "lr",
    "loss_mean",
    "loss_min",
    "loss_max",
    "n_runs",
    "n_diverged",
    "l0",
]


def capped_loss(runs: pd.DataFrame, l0: float) -> pd.Series:
    """min(final_val_loss, l0) per run; a run stopped before its end (diverged, oom) or a
    non-finite loss counts as l0."""
    loss = pd.to_numeric(runs[LOSS], errors="coerce").astype(float)
    bad = ~runs["status"].isin(statuses_where(final_loss=True)) | ~np.isfinite(loss)
    return loss.where(~bad, l0).clip(upper=l0)


def sensitivity(curve: np.ndarray) -> float:
    """mean over the grid of loss(lr) - min loss(lr)."""
    return float(np.mean(curve - np.min(curve)))


def lr_sensitivity(
    runs: pd.DataFrame, baseline: str = "baseline"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per LR family, one row per family x lr)."""
    summaries, curves = [], []
    for fam in find_families(runs, {LR_KEY}, baseline):
        lrs = [v[LR_KEY] for v in fam.values]
        if len(set(lrs)) < MIN_LRS:
            continue
        fam_runs = runs[(runs["task"] == fam.task) & runs["variant"].isin(fam.variants)].copy()
        fam_runs["lr"] = fam_runs["variant"].map(dict(zip(fam.variants, lrs, strict=True)))
        l0 = float(np.nanmedian(pd.to_numeric(fam_runs["initial_loss"], errors="coerce")))
        fam_runs["capped"] = capped_loss(fam_runs, l0)
        fam_runs["diverged"] = fam_runs["status"] == "diverged"
        by_lr = fam_runs.groupby("lr").agg(
            variant=("variant", "first"),
            loss_mean=("capped", "mean"),
            loss_min=("capped", "min"),
            loss_max=("capped", "max"),
            n_runs=("capped", "size"),
            n_diverged=("diverged", "sum"),
        )
        curve = by_lr["loss_mean"].to_numpy()
        # per seed, over the seeds that ran every lr: how much the estimate moves with the draw
        wide = fam_runs.pivot_table(index="seed", columns="lr", values="capped").dropna()
        per_seed = [sensitivity(row) for row in wide.to_numpy()]
        summaries.append(
            {
                "task": fam.task,
                "family": fam.name,
                "variants": ",".join(fam.variants),
                "n_lr": len(by_lr),
                "lr_min": float(by_lr.index.min()),
                "lr_max": float(by_lr.index.max()),
                "best_lr": float(by_lr.index[int(np.argmin(curve))]),
                "l0": l0,
                "l_star": float(curve.min()),
                "sensitivity": sensitivity(curve),
                "sensitivity_seed_std": float(np.std(per_seed, ddof=1))
                if len(per_seed) > 1
                else np.nan,
                "n_seeds_complete": len(per_seed),
                "n_diverged": int(by_lr["n_diverged"].sum()),
            }
        )
        by_lr = by_lr.reset_index().assign(task=fam.task, family=fam.name, l0=l0)
        curves.append(by_lr)
    curve_frame = (
        pd.concat(curves, ignore_index=True)[CURVE_COLUMNS]
        if curves
        else pd.DataFrame(columns=CURVE_COLUMNS)
    )
    return pd.DataFrame(summaries, columns=SUMMARY_COLUMNS), curve_frame
