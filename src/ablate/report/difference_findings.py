"""Findings on the paired differences against the baseline, and how findings print numbers.

A difference is named when it is significant after the multiple-comparison adjustment
(seeds.diff_significant): improvements first, then the largest harms, at most MAX_DIFFS
spelled out (the rest counted), as "lowers/raises val loss by |mean diff| [interval] nats
(adjusted interval) against the baseline (its value of the changed keys)", with k/n: on how
many of the n paired seeds the difference has the sign of the mean, the adjusted p-value and
the effect size. The interval is the adjusted one (seeds.diff_ci_lo_adj/hi_adj), the family
of the p-value beside it. When none is significant, it says so and gives the smallest
adjusted p-value; a significant val accuracy difference is added only for a variant whose
val loss difference is not significant.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ablate.analysis.load import METRICS, spec_values
from ablate.analysis.seeds import usable

MAX_DIFFS = 6  # differences against the baseline spelled out; the rest are counted
UNITS = {"val_loss": "nats", "val_acc": ""}
WORDS = {"val_loss": "val loss", "val_acc": "val accuracy"}


def decimals(lo: float, hi: float) -> int:
    """Enough to show the interval's width, and each end's first digit (an end near 0 must
    not print as 0.00: whether an interval holds 0 is what a reader looks for); 2 to 4."""
    width = abs(hi - lo)
    if not math.isfinite(width) or width == 0:
        return 2
    ends = [-math.floor(math.log10(abs(x))) for x in (lo, hi) if x != 0]
    return min(4, max(2, -math.floor(math.log10(width)), *ends))


def interval(value: float, lo: float, hi: float) -> str:
    """'0.30 [0.29, 0.31]': decimals enough to show the interval's width."""
    d = decimals(lo, hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return f"{value:.{d}f} (no interval)"
    return f"{value:.{d}f} [{lo:.{d}f}, {hi:.{d}f}]"


def p_text(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.2g}"


def effect_sentences(seeds: pd.DataFrame, runs: pd.DataFrame, reference: str) -> list[str]:
    """Val loss differences first (improvements, then the largest harms), at most
    MAX_DIFFS; then val accuracy differences of variants whose loss difference is not
    significant (the others' accuracy moves with their loss)."""
    rows = seeds[seeds["variant"] != reference]
    loss = rows[rows["metric"] == "val_loss"]
    tested = loss[loss["n_pairs"] >= 2]
    if loss.empty:
        return ["Only the baseline ran in this task: nothing to compare."]
    if tested.empty:
        return [f"No variant has two seeds paired with {reference}: no difference is tested."]
    hits = tested[tested["diff_significant"].astype(bool)]
    if hits.empty:
        low = tested.sort_values("diff_p_adj").iloc[0]
        out = [
            f"No variant's val loss differs significantly from {reference}'s after adjusting "
            f"for {len(tested)} comparisons (smallest adjusted p {p_text(low['diff_p_adj'])}, "
            f"{low['variant']})."
        ]
    else:
        better = hits[hits["diff_mean"] < 0].sort_values("diff_mean")
        worse = hits[hits["diff_mean"] >= 0].sort_values("diff_mean", ascending=False)
        ordered = pd.concat([better, worse])
        out = [
            _effect(r, "val_loss", runs, reference) for r in ordered.head(MAX_DIFFS).itertuples()
        ]
        if len(ordered) > MAX_DIFFS:
            out.append(
                f"{len(ordered) - MAX_DIFFS} more variants differ significantly in val loss "
                "(marked * in the leaderboard)."
            )
    acc = rows[(rows["metric"] == "val_acc") & (rows["n_pairs"] >= 2)]
    acc = acc[acc["diff_significant"].astype(bool) & ~acc["variant"].isin(hits["variant"])]
    out += [_effect(r, "val_acc", runs, reference) for r in acc.itertuples(index=False)]
    return out


def _effect(r, metric: str, runs: pd.DataFrame, reference: str) -> str:
    verb = "lowers" if r.diff_mean < 0 else "raises"
    # the interval of the same family as the adjusted p beside it (seeds.py: it excludes 0
    # exactly when the adjusted p is significant, up to Holm's monotonicity)
    lo, hi = r.diff_ci_lo_adj, r.diff_ci_hi_adj
    size = interval(abs(r.diff_mean), *sorted((abs(lo), abs(hi))))
    if lo < 0 < hi:
        size = interval(abs(r.diff_mean), lo, hi)
    unit = f" {UNITS[metric]}" if UNITS[metric] else ""
    against = _baseline_values(runs, r.variant, reference)
    agree, n = sign_agreement(runs, r.variant, reference, METRICS[metric])
    return (
        f"{r.variant} {verb} {WORDS[metric]} by {size}{unit} (adjusted interval) against "
        f"{against}, {agree}/{n} seeds (adjusted p {p_text(r.diff_p_adj)}, effect size "
        f"{r.diff_effect:.2g})."
    )


def _baseline_values(runs: pd.DataFrame, variant: str, reference: str) -> str:
    """'baseline (model.pos=learned)': the reference's values of the keys the variant sets."""
    mine, ref = runs[runs["variant"] == variant], runs[runs["variant"] == reference]
    if mine.empty or ref.empty:
        return reference
    (spec,), (ref_spec,) = spec_values(mine.iloc[:1]), spec_values(ref.iloc[:1])
    keys = [k for k in spec if spec[k] != ref_spec[k]]  # the keys the variant sets
    if not keys:
        return reference
    values = ", ".join(f"{k}={ref_spec[k]}" for k in keys)
    return f"{reference} ({values})"


def sign_agreement(runs: pd.DataFrame, variant: str, reference: str, column: str):
    """(k, n): the n seeds both variants finished, k of them with the mean's sign."""
    a = usable(runs[runs["variant"] == variant], column)[["seed", column]]
    b = usable(runs[runs["variant"] == reference], column)[["seed", column]]
    pairs = a.merge(b, on="seed", suffixes=("_v", "_r"))
    diff = (pairs[f"{column}_v"] - pairs[f"{column}_r"]).to_numpy(float)
    if diff.size == 0:
        return 0, 0
    return int((np.sign(diff) == np.sign(diff.mean())).sum()), int(diff.size)
