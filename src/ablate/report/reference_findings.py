"""Where a task's losses stand among its references (analysis/references.parquet).

A sentence places the reference variant's mean final val loss (leaderboard
val_loss_mean), and the lowest of any variant, between the two references around it:
"Against the references, baseline (2.51 nats) lies between the bigram (2.54) and trigram
(2.03) models; the lowest mean val loss, pos=rope (2.21), between the trigram and 4-gram
models." The references are those of the reference variant's data config at the
training length, the ones the loss charts draw.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NGRAMS = {"unigram", "bigram", "trigram", "4-gram", "5-gram"}


def variant_references(references: pd.DataFrame, variant: str) -> pd.DataFrame:
    """One task's references at its training length (the shortest eval length) for the
    data config ``variant`` runs on (the task's first one if no config lists it)."""
    if references.empty:
        return references
    uses = references["variants"].map(lambda names: variant in list(names))
    rows = references[uses] if uses.any() else references
    rows = rows[rows["data_key"] == rows["data_key"].iloc[0]]
    rows = rows[rows["seq_len"] == rows["seq_len"].min()]
    finite = np.isfinite(rows["val_loss"].astype(float))
    rows = rows[finite].sort_values("val_loss", ascending=False, kind="stable")
    return rows.reset_index(drop=True)


def reference_sentences(
    leaderboard: pd.DataFrame, references: pd.DataFrame, reference_variant: str
) -> list[str]:
    """One task's leaderboard and references -> at most one sentence."""
    refs = variant_references(references, reference_variant)
    board = leaderboard[np.isfinite(leaderboard["val_loss_mean"].astype(float))]
    if refs.empty or board.empty:
        return []
    levels = _levels(refs)
    parts = []
    ref_row = board[board["variant"] == reference_variant]
    if len(ref_row):
        loss = float(ref_row["val_loss_mean"].iloc[0])
        parts.append(f"{reference_variant} ({loss:.2f} nats) lies {_place(loss, levels, True)}")
    best = board.loc[board["val_loss_mean"].astype(float).idxmin()]
    if best["variant"] != reference_variant or not parts:
        loss = float(best["val_loss_mean"])
        where = _place(loss, levels, not parts)
        parts.append(f"the lowest mean val loss, {best['variant']} ({loss:.2f}), {where}")
    return ["Against the references, " + "; ".join(parts) + "."]


# when references tie (a synthetic task's unigram is often chance itself), the name shown
PREFERRED = ["chance", "best", *sorted(NGRAMS)]


def _levels(refs: pd.DataFrame) -> list[tuple[float, str]]:
    """(value, name) from the highest loss down; of references within rounding of each
    other only the preferred name is kept."""
    out: list[tuple[float, str]] = []
    for value, name in zip(refs["val_loss"].astype(float), refs["reference"], strict=True):
        if out and abs(out[-1][0] - value) < 5e-3:
            if PREFERRED.index(str(name)) < PREFERRED.index(out[-1][1]):
                out[-1] = (out[-1][0], str(name))
        else:
            out.append((value, str(name)))
    return out


def _label(value: float, name: str, numbers: bool, model: bool = True) -> str:
    """'trigram model (2.03)', 'chance (3.47)', 'best possible loss (0.00)'."""
    text = {"best": "best possible loss"}.get(name, name)
    text += " model" if model and name in NGRAMS else ""
    return f"{text} ({value:.2f})" if numbers else text


def _place(loss: float, levels: list[tuple[float, str]], numbers: bool) -> str:
    beaten = [(v, n) for v, n in levels if v > loss]  # references with a higher loss
    unbeaten = [(v, n) for v, n in levels if v <= loss]
    if not beaten:
        return f"at or above every reference, even the {_label(*unbeaten[0], numbers)}"
    if not unbeaten:
        return f"below every reference, the {_label(*beaten[-1], numbers)} included"
    (hi, hi_name), (lo, lo_name) = beaten[-1], unbeaten[0]
    if hi_name in NGRAMS and lo_name in NGRAMS:  # "the bigram (2.54) and trigram (2.03) models"
        pair = f"{_label(hi, hi_name, numbers, False)} and {_label(lo, lo_name, numbers, False)}"
        return f"between the {pair} models"
    return f"between the {_label(hi, hi_name, numbers)} and the {_label(lo, lo_name, numbers)}"
