"""The analysis tables of the statistics issue (#11), hand-built for report tests.

    complete_analysis(study_dir)   adds what analysis/ lacks: seeds' paired t-test columns,
                                   leaderboard.tied_with_best, effects.parquet, length.parquet,
                                   scaling_fits.identifiable

Only what is missing is added, so once `ablate analyse` writes these tables itself this does
nothing. The numbers follow simple textbook rules (paired t-test with Holm, difference of
level means with a t-interval), enough to give the report real tables to render.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ablate.analysis.load import flat_spec


def complete_analysis(study_dir: Path) -> None:
    study_dir = Path(study_dir)
    a = study_dir / "analysis"
    runs = pd.read_parquet(study_dir / "runs.parquet")
    seeds = pd.read_parquet(a / "seeds.parquet")
    if "diff_p" not in seeds.columns:
        seeds = _tests(seeds, runs)
        seeds.to_parquet(a / "seeds.parquet", index=False)
    board = pd.read_parquet(a / "leaderboard.parquet")
    if "tied_with_best" not in board.columns:
        s = seeds[seeds["metric"] == "val_loss"][
            ["task", "variant", "diff_p", "diff_p_adj", "diff_significant", "diff_effect"]
        ]
        s = s.rename(columns={c: f"val_loss_{c}" for c in s.columns[2:]})
        board = board.merge(s, on=["task", "variant"], how="left")
        best_hi = board.groupby("task")["val_loss_ci_hi"].transform("min")
        board["tied_with_best"] = (board["rank"] == 1) | (board["val_loss_ci_lo"] <= best_hi)
        board.to_parquet(a / "leaderboard.parquet", index=False)
    fits = pd.read_parquet(a / "scaling_fits.parquet")
    if "identifiable" not in fits.columns:
        fits["identifiable"] = fits["model"] == "saturating"
        fits.to_parquet(a / "scaling_fits.parquet", index=False)
    if not (a / "effects.parquet").exists():
        _effects(runs).to_parquet(a / "effects.parquet", index=False)
    if not (a / "length.parquet").exists():
        _length(pd.read_parquet(study_dir / "evals.parquet")).to_parquet(
            a / "length.parquet", index=False
        )


def _tests(seeds: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    col = {"val_loss": "final_val_loss", "val_acc": "final_val_acc"}
    ok = runs[runs["status"] != "diverged"]
    p, effect = [], []
    for r in seeds.itertuples(index=False):
        a = ok[(ok["task"] == r.task) & (ok["variant"] == r.variant)][["seed", col[r.metric]]]
        b = ok[(ok["task"] == r.task) & (ok["variant"] == r.reference)][["seed", col[r.metric]]]
        d = a.merge(b, on="seed").iloc[:, 1:].to_numpy(float)
        d = d[:, 0] - d[:, 1] if len(d) else np.array([])
        d = d[np.isfinite(d)]
        if r.variant == r.reference or d.size < 2 or d.std(ddof=1) == 0:
            p.append(np.nan)
            effect.append(np.nan)
            continue
        p.append(float(stats.ttest_1samp(d, 0.0).pvalue))
        effect.append(float(d.mean() / d.std(ddof=1)))
    seeds = seeds.assign(diff_p=p, diff_effect=effect)
    seeds["diff_p_adj"] = seeds.groupby(["task", "metric"])["diff_p"].transform(_holm)
    seeds["diff_significant"] = seeds["diff_p_adj"] < 0.05
    return seeds


def _holm(p: pd.Series) -> pd.Series:
    order = p.dropna().sort_values()
    m = len(order)
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * order.to_numpy()))
    return pd.Series(adj, index=order.index).reindex(p.index)


def _effects(runs: pd.DataFrame) -> pd.DataFrame:
    """Per grid (a group whose variants set more than one key): each factor's effect as the
    difference of its level means (last level - first), and the first two factors'
    interaction as a difference of differences, with t-intervals over the runs."""
    rows = []
    ok = runs[runs["status"] == "ok"]
    for (task, grid), g in ok.groupby(["task", "group"]):
        keys = sorted({k for o in g["overrides"] for k in json.loads(o)})
        if len(keys) < 2:
            continue
        spec = pd.DataFrame([flat_spec(s) for s in g["spec"]], index=g.index)[keys]
        loss = g["final_val_loss"].astype(float)
        for key in keys:
            levels = sorted(spec[key].unique())
            hi, lo = loss[spec[key] == levels[-1]], loss[spec[key] == levels[0]]
            rows.append(_term(task, grid, key, 1, hi, lo))
        k1, k2 = keys[:2]
        l1, l2 = sorted(spec[k1].unique()), sorted(spec[k2].unique())

        def cell(a, b, k1=k1, k2=k2, spec=spec, loss=loss):
            return loss[(spec[k1] == a) & (spec[k2] == b)]

        inter = (cell(l1[-1], l2[-1]).mean() - cell(l1[0], l2[-1]).mean()) - (
            cell(l1[-1], l2[0]).mean() - cell(l1[0], l2[0]).mean()
        )
        se = loss.std(ddof=1) * 2 / np.sqrt(len(loss))
        rows.append(_row(task, grid, f"{k1}:{k2}", 2, inter, se, len(loss) - 4))
    cols = ["task", "grid", "term", "order", "effect", "ci_lo", "ci_hi", "p_value"]
    return pd.DataFrame(rows, columns=cols)


def _term(task, grid, key, order, hi, lo):
    se = np.sqrt(hi.var(ddof=1) / len(hi) + lo.var(ddof=1) / len(lo))
    return _row(task, grid, key, order, hi.mean() - lo.mean(), se, len(hi) + len(lo) - 2)


def _row(task, grid, term, order, effect, se, dof):
    q = stats.t.ppf(0.975, max(dof, 1))
    p = 2 * stats.t.sf(abs(effect) / se, max(dof, 1)) if se > 0 else 0.0
    return {
        "task": task,
        "grid": grid,
        "term": term,
        "order": order,
        "effect": effect,
        "ci_lo": effect - q * se,
        "ci_hi": effect + q * se,
        "p_value": p,
    }


def _length(evals: pd.DataFrame) -> pd.DataFrame:
    val = evals[evals["split"] == "val"]
    last = val[val["step"] == val.groupby("run_id")["step"].transform("max")]
    last = last.assign(
        multiple=last["seq_len"] // last.groupby("run_id")["seq_len"].transform("min")
    )
    rows = []
    for (task, variant, mult), g in last.groupby(["task", "variant", "multiple"]):
        x = g["loss"].astype(float).to_numpy()
        half = (
            stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
            if len(x) > 1
            else np.nan
        )
        rows.append(
            {
                "task": task,
                "variant": variant,
                "multiple": int(mult),
                "seq_len": int(g["seq_len"].iloc[0]),
                "loss_mean": x.mean(),
                "loss_ci_lo": x.mean() - half,
                "loss_ci_hi": x.mean() + half,
                "acc_mean": g["token_acc"].astype(float).mean(),
                "n": len(x),
            }
        )
    return pd.DataFrame(rows)
