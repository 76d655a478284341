"""Findings: the sentences at the top of each task, generated from the analysis tables.

Each sentence restates numbers from the tables and nothing else, in the leaderboard's order:
  - the first row (the lowest mean val loss among the variants that fail least), a variant
    with a lower mean but more failures, the variants that cannot be ruled out as the best
    (leaderboard.tied_with_best, a mark, never a re-sort), and those among them only
    because their seeds disagree (leaderboard.tied_by_spread, with the spreads);
  - the paired differences against the baseline that are significant after the
    multiple-comparison adjustment, each with its adjusted interval (difference_findings.py);
  - per failure status, which variants failed on how many of their seeds, with one reason;
  - each scaling family's law and extrapolation when the law is identified, otherwise
    "not identifiable" and no number;
  - per factorial grid, the main effects and interactions significant after Holm's
    adjustment across the grid's terms, with adjusted intervals, or that none is;
  - length generalisation: the baseline's loss at each evaluated multiple of the training
    length, with intervals, and the variant with the lowest mean loss at the longest, with
    its interval and how many variants were evaluated there;
  - where the baseline and the best variant stand against the task's reference models
    (n-gram models of a text corpus; chance and the best achievable loss of a synthetic
    task): reference_findings.py;
  - along the size ladders, which variants' loss falls faster or slower with size than the
    baseline's (Holm-adjusted), or that the study cannot tell, and the best variant at the
    largest compute every ladder reached (ladder_section.py);
  - in a tuned study, which variants chose another value than the baseline, which chose
    the grid's edge, and the order at the shared value against the order at the chosen
    values (tuning_section.py).
Intervals are printed with enough decimals to show their width (2 to 4).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ablate.analysis.ranking import display_order
from ablate.probes.status import statuses_where
from ablate.report.difference_findings import effect_sentences, interval, p_text
from ablate.report.ladder_section import ladder_sentences, rung_value_sentences
from ablate.report.reference_findings import reference_sentences
from ablate.report.tuning_section import tuning_sentences

MAX_EFFECTS = 3  # factorial terms named per grid


def task_findings(t: dict[str, pd.DataFrame], reference: str) -> list[str]:
    """t: one task's tables (runs, seeds, leaderboard, references, scaling_fits, effects,
    length)."""
    out = best_sentence(t["leaderboard"])
    out += reference_sentences(t["leaderboard"], t["references"], reference)
    out += effect_sentences(t["seeds"], t["runs"], reference)
    out += failure_sentences(t["runs"])
    out += scaling_sentences(t["scaling_fits"])
    out += factorial_sentences(t["effects"])
    out += length_sentences(t["length"], reference)
    out += ladder_sentences(t.get("scaling_variants"), t.get("ladder_points"))
    out += rung_value_sentences(t.get("tuning"), t.get("ladder_points"))
    out += tuning_sentences(t.get("tuning", pd.DataFrame()), t["leaderboard"], reference)
    return out


def best_sentence(board: pd.DataFrame) -> list[str]:
    """The first row (position 1: the lowest mean among the variants that fail least), the
    variants that cannot be ruled out as the best, and those among them only because their
    seeds disagree; a variant with a lower mean but more failures is named too."""
    if board.empty:
        return []
    board = display_order(board)
    best = board.iloc[0]
    loss = interval(best["val_loss_mean"], best["val_loss_ci_lo"], best["val_loss_ci_hi"])
    fails = f", {best['failure_rate']:.0%} of its runs failed" if best["failure_rate"] else ""
    text = f"Lowest mean val loss: {best['variant']} ({loss}{fails})."
    lower = board[
        (board["val_loss_mean"].astype(float) < float(best["val_loss_mean"]))
        & (board["failure_rate"] > best["failure_rate"])
    ]
    for r in lower.itertuples(index=False):
        text += (
            f" {r.variant} has a lower mean ({r.val_loss_mean:.3f}) but {r.failure_rate:.0%} "
            "of its runs failed, so it is listed below."
        )
    tied = board[board["tied_with_best"].astype(bool) & (board["position"] > 1)]
    if len(board) > 1:
        if tied.empty:
            text += " Every other variant is ruled out as the best (MCB)."
        else:
            names = ", ".join(
                f"{r.variant} {r.val_loss_mean:.3f}" for r in tied.itertuples(index=False)
            )
            text += f" Cannot be ruled out as the best (MCB, {len(tied)}): {names}."
    out = [text]
    for r in tied[tied["tied_by_spread"].astype(bool)].itertuples(index=False):
        out.append(
            f"{r.variant} is among them only because its seeds disagree: its paired "
            f"difference from {best['variant']} is {r.best_diff_mean:+.3f} nats with sd "
            f"{r.best_diff_sd:.3f} over {int(r.best_diff_n)} seeds, against a median sd of "
            f"{r.typical_diff_sd:.3f} for the other candidates."
        )
    return out


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
    """Per grid, the terms significant after Holm's adjustment across the grid's terms,
    with their adjusted intervals (the same family as the p-value)."""
    out = []
    for grid, g in effects.groupby("grid", sort=True):
        clear = g[g["significant"].astype(bool)]
        if clear.empty:
            out.append(
                f"Grid {grid}: no main effect or interaction on val loss is distinguishable "
                f"from zero after adjusting across its {len(g)} terms."
            )
            continue
        top = clear.reindex(clear["effect"].abs().sort_values(ascending=False).index)
        terms = "; ".join(
            f"{r.term} {interval(r.effect, r.ci_lo_adj, r.ci_hi_adj)} (adjusted p "
            f"{p_text(r.p_adj)})"
            for r in top.head(MAX_EFFECTS).itertuples(index=False)
        )
        out.append(
            f"Grid {grid}: {len(clear)} of {len(g)} effects on val loss are significant after "
            f"adjusting across the grid's terms; the largest (nats, adjusted intervals): {terms}."
        )
    return out


def length_sentences(length: pd.DataFrame, reference: str) -> list[str]:
    """The reference variant's loss at each evaluated multiple, and the lowest mean at the
    longest with its interval, saying how many variants were evaluated there."""
    if length.empty or length["multiple"].max() <= 1:
        return []
    longest = length["multiple"].max()
    every = set(length["variant"])
    length = length[np.isfinite(length["loss_mean"].astype(float))]
    if length.empty:
        return []
    ref = length[length["variant"] == reference].sort_values("multiple")
    far = length[length["multiple"] == longest]
    parts = []
    if not ref.empty:
        losses = ", ".join(
            f"{interval(r.loss_mean, r.loss_ci_lo, r.loss_ci_hi)} at {r.multiple:g}×"
            for r in ref.itertuples()
        )
        parts.append(f"{reference}'s val loss is {losses} the training length")
    if not far.empty:
        best = far.sort_values(["loss_mean", "variant"]).iloc[0]
        absent = sorted(every - set(far["variant"]))
        missing = (
            f" (not evaluated there or without a finite loss: {', '.join(absent)})"
            if absent
            else ""
        )
        parts.append(
            f"the lowest mean val loss at {longest:g}×, among the {far['variant'].nunique()} "
            f"variants evaluated there{missing}, is {best['variant']}'s "
            f"({interval(best['loss_mean'], best['loss_ci_lo'], best['loss_ci_hi'])}; "
            "intervals of different variants are not a test of their difference)"
        )
    return ["Length generalisation: " + "; ".join(parts) + "."] if parts else []
