"""Scaling behaviour per variant: how fast each variant's loss falls along its size ladder
(the study's ``scaling:`` section, study/ladder.py), with intervals over seeds.

Per (task, variant, seed), over the ladder's rungs (the variant's own run among them):
  alpha_s = - slope of log(final_val_loss) against log(x), by least squares,
for x = n_params_non_embedding and x = flops (training FLOPs). A seed counts only with a
finished run (not diverged or oom) at >= MIN_RUNGS rungs; alpha > 0: loss falls with size.
Then, per (task, variant, x):
  alpha        mean of alpha_s over seeds, with a Student-t interval over seeds;
  alpha_diff   mean over seeds of alpha_s - baseline's alpha_s (paired by seed: the same
               data order and init seed on both ladders), a paired t-test, Holm-adjusted
               across the task's variants (per x), with the interval at the adjusted level;
  loss_at_largest  mean final val loss at the largest rung.
  law_*        the saturating law E + A x^-alpha over the rungs' mean losses
               (scaling_fit.fit_scaling), its parameters only where that rule says it is
               identified, its reason always.
alpha is a local power-law slope over the measured sizes, not a law.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ablate.analysis.inference import ALPHA, LEVEL, holm, holm_levels, paired_t, t_interval
from ablate.analysis.load import LOSS
from ablate.analysis.scaling_fit import fit_scaling
from ablate.analysis.seeds import usable

AXES = ("n_params_non_embedding", "flops")
MIN_RUNGS = 3
COLUMNS = [
    *("task", "variant", "x", "n_sizes", "n_seeds"),
    *("alpha", "alpha_ci_lo", "alpha_ci_hi"),
    *("alpha_diff", "alpha_diff_ci_lo", "alpha_diff_ci_hi", "alpha_diff_p", "alpha_diff_p_adj"),
    *("alpha_diff_significant", "loss_at_largest", "reference"),
    # the law E + A x^-alpha over the rungs' mean losses (analysis/scaling_fit.py), its
    # parameters only where that module's rule says the law is identified; the reason always
    *("law", "law_identified", "law_E", "law_A", "law_alpha", "law_reason"),
]


POINT_COLUMNS = [
    *("task", "ladder", "variant", "n_params_non_embedding", "flops"),
    *("loss_mean", "loss_min", "loss_max", "n_used", "n_runs"),
]


def ladder_points(ladders: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, ladder, rung): the mean final val loss over the rung's finished
    runs (seed min..max beside it), at the rung's parameter count and training FLOPs."""
    rows = []
    for (task, ladder, variant), g in ladders.groupby(["task", "ladder", "variant"], sort=True):
        loss = usable(g, LOSS)[LOSS].astype(float)
        rows.append(
            {
                "task": task,
                "ladder": ladder,
                "variant": variant,
                "n_params_non_embedding": float(g["n_params_non_embedding"].median()),
                "flops": float(pd.to_numeric(g["flops"]).median()),
                "loss_mean": float(loss.mean()) if len(loss) else np.nan,
                "loss_min": float(loss.min()) if len(loss) else np.nan,
                "loss_max": float(loss.max()) if len(loss) else np.nan,
                "n_used": len(loss),
                "n_runs": len(g),
            }
        )
    return pd.DataFrame(rows, columns=POINT_COLUMNS)


def slope(x, y) -> float:
    """- d log y / d log x by least squares (nan with < MIN_RUNGS distinct finite points)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if len(np.unique(x[keep])) < MIN_RUNGS:
        return float("nan")
    return float(-np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0])


def seed_alphas(ladder: pd.DataFrame, axis: str) -> pd.Series:
    """seed -> alpha_s of one variant's ladder runs (rows: its rungs x seeds)."""
    done = usable(ladder, LOSS)
    out = {
        int(seed): slope(g[axis].astype(float), g[LOSS].astype(float))
        for seed, g in done.groupby("seed", sort=True)
    }
    return pd.Series(out, dtype=float).dropna()


def scaling_variants(ladders: pd.DataFrame, baseline: str = "baseline") -> pd.DataFrame:
    """``ladders``: the runs of every ladder, a column ``ladder`` naming the variant whose
    ladder a run is on (its own run included). One row per (task, variant, x)."""
    rows = []
    if ladders.empty:
        return pd.DataFrame(columns=COLUMNS)
    for task, task_runs in ladders.groupby("task", sort=True):
        names = sorted(task_runs["ladder"].unique())
        reference = baseline if baseline in names else names[0]
        for axis in AXES:
            alphas = {v: seed_alphas(task_runs[task_runs["ladder"] == v], axis) for v in names}
            ref = alphas[reference]
            block = []
            for variant in names:
                runs = task_runs[task_runs["ladder"] == variant]
                a = alphas[variant]
                lo, hi = t_interval(a.to_numpy())
                largest = runs[runs[axis] == runs[axis].max()]
                loss = usable(largest, LOSS)[LOSS].astype(float)
                diff = (a - ref).dropna() if variant != reference else pd.Series(dtype=float)
                p, _ = paired_t(diff.to_numpy()) if len(diff) else (np.nan, np.nan)
                block.append(
                    {
                        "task": task,
                        "variant": variant,
                        "x": axis,
                        "n_sizes": int(runs[axis].nunique()),
                        "n_seeds": len(a),
                        "alpha": float(a.mean()) if len(a) else np.nan,
                        "alpha_ci_lo": lo,
                        "alpha_ci_hi": hi,
                        "alpha_diff": float(diff.mean()) if len(diff) else np.nan,
                        "alpha_diff_p": p,
                        "loss_at_largest": float(loss.mean()) if len(loss) else np.nan,
                        "reference": reference,
                        "_diff": diff.to_numpy(),
                        **_law(runs, axis),
                    }
                )
            rows += _adjust(block)
    return pd.DataFrame(rows, columns=COLUMNS)


def _law(runs: pd.DataFrame, axis: str) -> dict:
    """The saturating law over one ladder's rungs (mean loss per rung), where identified."""
    done = usable(runs, LOSS)
    by_rung = done.groupby(done[axis].astype(float))[LOSS].mean()
    by_rung = by_rung[(by_rung.index > 0) & (by_rung > 0)]
    if len(by_rung) < 2:
        fit, reason = None, "fewer than 2 rungs with a loss"
    else:
        fit = fit_scaling(by_rung.index.to_numpy(), by_rung.to_numpy())
        reason = fit.reason
    identified = fit is not None and fit.identified
    return {
        "law": fit.model if fit is not None else "",
        "law_identified": identified,
        "law_E": fit.E if identified else np.nan,
        "law_A": fit.A if identified else np.nan,
        "law_alpha": fit.alpha if identified else np.nan,
        "law_reason": reason,
    }


def _adjust(block: list[dict]) -> list[dict]:
    """Holm across the task's variants (per x): p adjusted, and each difference's interval
    at the level Holm's step-down gives it (inference.holm_levels)."""
    p = np.array([r["alpha_diff_p"] for r in block], dtype=float)
    tested = np.isfinite(p)
    adj, levels = np.full(len(p), np.nan), np.full(len(p), LEVEL)
    if tested.any():
        adj[tested] = holm(p[tested])
        levels[tested] = 1 - holm_levels(p[tested])  # coverage, from the error rate
    for row, p_adj, level in zip(block, adj, levels, strict=True):
        diff = row.pop("_diff")
        row["alpha_diff_ci_lo"], row["alpha_diff_ci_hi"] = t_interval(diff, level)
        row["alpha_diff_p_adj"] = p_adj
        row["alpha_diff_significant"] = bool(np.isfinite(p_adj) and p_adj < ALPHA)
    return block


# what the leaderboard carries of each variant's ladder (against non-embedding parameters)
BOARD_COLUMNS = ["alpha", "alpha_ci_lo", "alpha_ci_hi", "alpha_diff", "alpha_diff_ci_lo"]
BOARD_COLUMNS += ["alpha_diff_ci_hi", "alpha_diff_p_adj", "alpha_diff_significant"]


def with_scaling(board: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard with each variant's scaling slope beside its loss: BOARD_COLUMNS
    from ``table`` (scaling_variants) at x = non-embedding parameters; NaN (and not
    significant) for a variant without a ladder."""
    rows = table[table["x"] == AXES[0]][["task", "variant", *BOARD_COLUMNS]]
    out = board.drop(columns=[c for c in BOARD_COLUMNS if c in board], errors="ignore")
    out = out.merge(rows, on=["task", "variant"], how="left")
    numbers = {c: pd.to_numeric(out[c], errors="coerce").astype(float) for c in BOARD_COLUMNS[:-1]}
    significant = out["alpha_diff_significant"].astype("boolean").fillna(False)
    return out.assign(**numbers, alpha_diff_significant=significant.astype(bool))
