"""Findings: the sentences at the top of each task, generated from the analysis tables.

Each sentence restates numbers from the tables and nothing else:
  - the variant ranked first, and which others are tied with it (leaderboard.tied_with_best);
  - the paired differences against the baseline that are significant after the
    multiple-comparison adjustment (seeds.diff_significant): improvements first, then the
    largest harms, at most MAX_DIFFS spelled out (the rest counted), as "lowers/raises val loss by
    |mean diff| [interval] nats against the baseline (its value of the changed keys)", with
    k/n: on how many of the n paired seeds the difference has the sign of the mean, the
    adjusted p-value and the effect size; when none is significant, it says so and gives the
    smallest adjusted p-value; a significant val accuracy difference is added only for a
    variant whose val loss difference is not significant;
  - per failure status, which variants failed on how many of their seeds, with one reason;
  - each scaling family's law and extrapolation when the law is identified, otherwise
    "not identifiable" and no number;
  - per factorial grid, the largest main effects and interactions whose interval excludes
    zero, or that none does;
  - length generalisation: the baseline's loss at each evaluated multiple of the training
    length and the variant with the lowest mean loss at the longest (finite losses only).
Intervals are printed with enough decimals to show their width (2 to 4).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ablate.analysis.load import METRICS, spec_values
from ablate.analysis.ranking import display_order
from ablate.analysis.seeds import usable
from ablate.probes.status import statuses_where

MAX_EFFECTS = 3  # factorial terms named per grid
MAX_DIFFS = 6  # differences against the baseline spelled out; the rest are counted
UNITS = {"val_loss": "nats", "val_acc": ""}
WORDS = {"val_loss": "val loss", "val_acc": "val accuracy"}


def decimals(lo: float, hi: float) -> int:
    width = abs(hi - lo)
    if not math.isfinite(width) or width == 0:
        return 2
    return min(4, max(2, -math.floor(math.log10(width))))


def interval(value: float, lo: float, hi: float) -> str:
    """'0.30 [0.29, 0.31]': decimals enough to show the interval's width."""
    d = decimals(lo, hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return f"{value:.{d}f} (no interval)"
    return f"{value:.{d}f} [{lo:.{d}f}, {hi:.{d}f}]"


def p_text(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.2g}"


def task_findings(t: dict[str, pd.DataFrame], reference: str) -> list[str]:
    """t: one task's tables (runs, seeds, leaderboard, scaling_fits, effects, length)."""
    out = best_sentence(t["leaderboard"])
    out += effect_sentences(t["seeds"], t["runs"], reference)
    out += failure_sentences(t["runs"])
    out += scaling_sentences(t["scaling_fits"])
    out += factorial_sentences(t["effects"])
    out += length_sentences(t["length"], reference)
    return out


def best_sentence(board: pd.DataFrame) -> list[str]:
    if board.empty:
        return []
    board = display_order(board)
    best = board.iloc[0]
    loss = interval(best["val_loss_mean"], best["val_loss_ci_lo"], best["val_loss_ci_hi"])
    text = f"Ranked first: {best['variant']} (val loss {loss})."
    tied = board[board["tied_with_best"] & (board["variant"] != best["variant"])]
    if len(board) > 1:
        if tied.empty:
            text += " No other variant is tied with it."
        else:
            names = ", ".join(tied["variant"])
            text += f" Cannot be told apart from it ({len(tied)}): {names}."
    return [text]


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
    size = interval(abs(r.diff_mean), *sorted((abs(r.diff_ci_lo), abs(r.diff_ci_hi))))
    if r.diff_ci_lo < 0 < r.diff_ci_hi:  # significant by p but the interval spans 0
        size = interval(abs(r.diff_mean), r.diff_ci_lo, r.diff_ci_hi)
    unit = f" {UNITS[metric]}" if UNITS[metric] else ""
    against = _baseline_values(runs, r.variant, reference)
    agree, n = sign_agreement(runs, r.variant, reference, METRICS[metric])
    return (
        f"{r.variant} {verb} {WORDS[metric]} by {size}{unit} against {against}, "
        f"{agree}/{n} seeds (adjusted p {p_text(r.diff_p_adj)}, effect size "
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


def failure_sentences(runs: pd.DataFrame) -> list[str]:
    """One sentence per failure status: which variants, on how many of their seeds, and the
    first reason (by variant, then seed) as an example."""
    bad = runs[runs["status"].isin(statuses_where(failure=True))]
    if bad.empty:
        return ["Every run finished with status ok."]
    out = []
    for status, g in bad.groupby("status", sort=True):
        parts = [
            f"{variant} {len(v)}/{int((runs['variant'] == variant).sum())}"
            for variant, v in g.groupby("variant", sort=True)
        ]
        first = g.sort_values(["variant", "seed"])
        reasons = first["reason"].astype(str)
        reason = reasons[reasons != ""].iloc[0] if (reasons != "").any() else ""
        example = f" (e.g. {first.loc[reasons.index[reasons == reason][0], 'variant']}: {reason})"
        out.append(
            f"{len(g)} of {len(runs)} runs {status}: "
            + ", ".join(parts)
            + " seeds"
            + (example if reason else "")
            + "."
        )
    return out


def scaling_sentences(fits: pd.DataFrame) -> list[str]:
    out = []
    for f in fits[fits["x"] == "n_params_non_embedding"].itertuples(index=False):
        head = f"Scaling, family {f.family} ({f.n_sizes} sizes)"
        if not f.identified:
            out.append(f"{head}: the law is not identifiable ({f.reason}); no extrapolation.")
            continue
        law = "L = E + A·N^-α" if f.model == "saturating" else "L = A·N^-α"
        e = f", E = {f.E:.3g}" if f.model == "saturating" else ""
        out.append(
            f"{head}: {law} with α = {interval(f.alpha, f.alpha_ci_lo, f.alpha_ci_hi)}{e}; "
            f"predicted val loss at 10× the largest size "
            f"{interval(f.loss_at_10x, f.loss_at_10x_ci_lo, f.loss_at_10x_ci_hi)}."
        )
    return out


def factorial_sentences(effects: pd.DataFrame) -> list[str]:
    out = []
    for grid, g in effects.groupby("grid", sort=True):
        clear = g[(g["ci_lo"] > 0) | (g["ci_hi"] < 0)]
        if clear.empty:
            out.append(
                f"Grid {grid}: no main effect or interaction on val loss is distinguishable "
                f"from zero (all {len(g)} intervals include 0)."
            )
            continue
        top = clear.reindex(clear["effect"].abs().sort_values(ascending=False).index)
        terms = "; ".join(
            f"{r.term} {interval(r.effect, r.ci_lo, r.ci_hi)}"
            for r in top.head(MAX_EFFECTS).itertuples(index=False)
        )
        out.append(
            f"Grid {grid}: {len(clear)} of {len(g)} effects on val loss have an interval "
            f"excluding 0; the largest (nats): {terms}."
        )
    return out


def length_sentences(length: pd.DataFrame, reference: str) -> list[str]:
    if length.empty or length["multiple"].max() <= 1:
        return []
    longest = length["multiple"].max()
    length = length[np.isfinite(length["loss_mean"].astype(float))]
    if length.empty:
        return []
    ref = length[length["variant"] == reference].sort_values("multiple")
    far = length[(length["multiple"] == longest) & np.isfinite(length["loss_mean"])]
    parts = []
    if not ref.empty:
        losses = ", ".join(f"{r.loss_mean:.3f} at {r.multiple}×" for r in ref.itertuples())
        parts.append(f"{reference}'s val loss is {losses} the training length")
    if not far.empty:
        best = far.sort_values(["loss_mean", "variant"]).iloc[0]
        parts.append(
            f"lowest mean at {longest}×: {best['variant']} "
            f"({interval(best['loss_mean'], best['loss_ci_lo'], best['loss_ci_hi'])})"
        )
    return ["Length generalisation: " + "; ".join(parts) + "."] if parts else []
