"""Stability of a variant across its seeds: components, a 0-100 score and a tier.

Components (per task and variant, over its seeds):
  diverged_rate     fraction of runs with status diverged (NaN/inf or exploding loss)
  stalled_rate      fraction with status stalled (never clearly beat the unigram/initial loss)
  unstable_rate     fraction with status unstable (more than status.max_spikes loss spikes)
  collapse_rate     fraction with status collapsed (a collapsed layer in a run that did not
                    learn; probes/status.py defines collapse: every head of a layer below
                    the study's status.collapse_threshold at the last probe)
  oom_rate          fraction with status oom (ran out of device memory: it did not finish)
  sharp_rate        fraction of runs that learned (status ok or unstable) with a collapsed
                    layer by that same definition: a warning (one sharp head is not one)
  loss_spikes       mean n_loss_spikes per run; grad_spikes: mean n_grad_spikes per run
  grad_ratio        median over runs of max_grad_norm / median_grad_norm
  seed_std          std over seeds of final_val_loss (diverged, oom runs left out); seed_cv =
                    seed_std / mean final_val_loss
  attn_logit_max    mean over runs of final_attn_logit_max (largest q.k/sqrt(d_h))
  attn_logit_growth mean over runs of (largest attn_logit_max at the last probe) minus
                    (largest at the first probe, usually step 0 = init)

Score (100 = no sign of trouble; every term is clipped to [0, 1] and counts 0 if undefined):
  score = 100 - 100 * (diverged + stalled + collapse + oom rates)     did not train
              -  30 * unstable_rate
              -  10 * sharp_rate
              -  10 * max(loss_spikes, grad_spikes) / status.max_spikes
              -  10 * (log10(grad_ratio) - 1)               0 up to 10x, full at 100x
              -  10 * log10(attn_logit_max / 10)            0 up to 10, full at 100
              -  10 * seed_cv / 0.05                        full at a 5% seed spread
  clipped below at 0.
Tier: A stable (score >= 90), B shaky (>= 75), C unstable (>= 50), D broken (< 50).
So one diverged seed in three (score <= 67) is at best C, two in three (<= 33) is D, and the
five soft terms together (at most 50 points) can push a variant whose runs all end with status
ok down to C, never to D.
tier_reason names the term that cost the most points, with its value ("1 of 3 runs
diverged", "seed spread 0.12 nats (cv 4.8%)"), and any other costing at least half as much,
so a tier below A says why beside it: a variant whose runs all end ok can still be C, and
the reason says which warning moved it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ablate.analysis.load import LOSS
from ablate.analysis.seeds import usable
from ablate.probes.status import STATUSES, collapsed_layers, last_head_entropy, statuses_where
from ablate.spec.config import StatusRules

TIERS = [(90.0, "A"), (75.0, "B"), (50.0, "C"), (-np.inf, "D")]
TIER_NAMES = {"A": "stable", "B": "shaky", "C": "unstable", "D": "broken"}
WEIGHTS = {
    "fail": 100.0,
    "unstable": 30.0,
    "sharp": 10.0,
    "spikes": 10.0,
    "grad": 10.0,
    "logit": 10.0,
    "spread": 10.0,
}
SPREAD_FULL = 0.05  # seed_cv at which the spread term is fully charged


def stability_table(
    runs: pd.DataFrame, probes: pd.DataFrame, rules: StatusRules | None = None
) -> pd.DataFrame:
    rules = rules or StatusRules()
    growth = logit_growth(probes)
    sharp = sharp_runs(probes, rules.collapse_threshold)
    rows = []
    for (task, variant), group in runs.groupby(["task", "variant"], sort=True):
        row = {"task": task, "variant": variant} | components(group, growth, sharp, rules)
        row["score"] = stability_score(row)
        row["tier"] = tier(row["score"])
        row["tier_reason"] = tier_reason(row)
        rows.append(row)
    return pd.DataFrame(rows)


def components(runs: pd.DataFrame, growth: pd.Series, sharp: pd.Series, rules: StatusRules) -> dict:
    n = len(runs)
    status = runs["status"].astype(str)
    learned = status.isin(statuses_where(learned=True)).to_numpy()
    sharp_layer = np.array([bool(sharp.get(r, False)) for r in runs["run_id"]])
    ratio = _num(runs, "max_grad_norm") / _num(runs, "median_grad_norm")
    loss = usable(runs, LOSS)[LOSS].astype(float)
    seed_std = float(loss.std(ddof=1)) if len(loss) > 1 else np.nan
    out = {"n_runs": n} | {f"n_{s}": int((status == s).sum()) for s in STATUSES}
    out |= {
        "diverged_rate": out["n_diverged"] / n,
        "stalled_rate": out["n_stalled"] / n,
        "unstable_rate": out["n_unstable"] / n,
        "collapse_rate": out["n_collapsed"] / n,
        "oom_rate": out["n_oom"] / n,
        "sharp_rate": float((learned & sharp_layer).mean()),
        "loss_spikes": _mean(_num(runs, "n_loss_spikes")),
        "grad_spikes": _mean(_num(runs, "n_grad_spikes")),
        "max_spikes": float(rules.max_spikes),
        "grad_ratio": _median(ratio),
        "seed_std": seed_std,
        "seed_cv": seed_std / float(loss.mean()) if len(loss) > 1 else np.nan,
        "attn_logit_max": _mean(_num(runs, "final_attn_logit_max")),
        "attn_logit_growth": _mean(runs["run_id"].map(growth).to_numpy(float)),
    }
    return out


def penalties(c: dict) -> dict[str, float]:
    """The points each term of the module docstring's score takes, from a components dict."""
    w = WEIGHTS
    spikes = np.nanmax([c["loss_spikes"], c["grad_spikes"], 0.0]) / max(c["max_spikes"], 1.0)
    failed = c["diverged_rate"] + c["stalled_rate"] + c["collapse_rate"] + c["oom_rate"]
    return {
        "fail": w["fail"] * failed,
        "unstable": w["unstable"] * c["unstable_rate"],
        "sharp": w["sharp"] * _unit(c.get("sharp_rate", np.nan)),
        "spikes": w["spikes"] * _unit(spikes),
        "grad": w["grad"] * _unit(np.log10(c["grad_ratio"]) - 1 if c["grad_ratio"] > 0 else np.nan),
        "logit": w["logit"]
        * _unit(np.log10(c["attn_logit_max"] / 10) if c["attn_logit_max"] > 0 else 0),
        "spread": w["spread"] * _unit(c["seed_cv"] / SPREAD_FULL),
    }


def stability_score(c: dict) -> float:
    """The score of the module docstring, from a components dict."""
    return float(max(0.0, 100.0 - sum(penalties(c).values())))


def tier_reason(c: dict) -> str:
    """The terms that cost the most points, in words with their values: the largest, and
    any other costing at least half as much (at most three); '' when none costs a point."""
    cost = penalties(c)
    ranked = sorted((k for k in cost if cost[k] >= 0.5), key=lambda k: -cost[k])
    if not ranked:
        return ""
    top = [k for k in ranked if cost[k] >= cost[ranked[0]] / 2][:3]
    return "; ".join(_term_words(c, k, cost[k]) for k in top)


def _term_words(c: dict, term: str, cost: float) -> str:
    n = c["n_runs"]
    if term == "fail":
        parts = [
            f"{c[f'n_{s}']} of {n} runs {s}"
            for s in statuses_where(failure=True, learned=False)
            if c.get(f"n_{s}", 0)
        ]
        return ", ".join(parts) + f" (-{cost:.0f})"
    words = {
        "unstable": f"{c['n_unstable']} of {n} runs unstable",
        "sharp": f"sharp attention (a collapsed layer) in {c['sharp_rate']:.0%} of runs",
        "spikes": f"{np.nanmax([c['loss_spikes'], c['grad_spikes']]):.1f} spikes per run",
        "grad": f"max/median grad norm {c['grad_ratio']:.0f}x",
        "logit": f"attention logits up to {c['attn_logit_max']:.0f}",
        "spread": f"seed spread {c['seed_std']:.2g} nats (cv {c['seed_cv']:.1%})",
    }
    return f"{words[term]} (-{cost:.0f})"


def tier(score: float) -> str:
    return next(name for floor, name in TIERS if score >= floor)


def sharp_runs(probes: pd.DataFrame, threshold: float) -> pd.Series:
    """run_id -> whether some layer is collapsed at the run's last probe (status.py's rule)."""
    if probes.empty:
        return pd.Series(dtype=bool)
    p = probes[probes["metric"] == "attn_entropy"]
    p = p.drop_duplicates(["run_id", "step", "layer", "head"])  # shared runs appear twice
    return pd.Series(
        {
            run_id: bool(collapsed_layers(last_head_entropy(g), threshold))
            for run_id, g in p.groupby("run_id")
        },
        dtype=bool,
    )


def logit_growth(probes: pd.DataFrame) -> pd.Series:
    """run_id -> largest attn_logit_max at the run's last probe minus at its first probe."""
    p = probes[probes["metric"] == "attn_logit_max"]
    if p.empty:
        return pd.Series(dtype=float)
    p = p.drop_duplicates(["run_id", "step", "layer", "head"])  # shared runs appear twice
    per_step = p.groupby(["run_id", "step"])["value"].max().reset_index()
    first = per_step.sort_values("step").groupby("run_id")["value"].first()
    last = per_step.sort_values("step").groupby("run_id")["value"].last()
    return last - first


def _num(runs: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(runs[column], errors="coerce").to_numpy(float)


def _mean(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else np.nan


def _median(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else np.nan


def _unit(x: float) -> float:
    """Clip a term to [0, 1]; an undefined term (NaN) costs nothing."""
    return 0.0 if not np.isfinite(x) else float(min(1.0, max(0.0, x)))
