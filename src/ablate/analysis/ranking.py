"""The leaderboard: one row per (task, variant), ranked within each task.

Ranking rule, per task: first by failure rate, the fraction of its runs whose status is not
ok (diverged, stalled, unstable or collapsed: a variant that does not train reliably never
outranks one that does), then by mean final_val_loss over its non-diverged seeds (lower is
better; a variant with no usable loss goes last), then by variant name so ties are broken
the same way every time. The stability score and tier are shown beside the rank but do not
set it: their soft terms (spikes, grad-norm ratio, logit growth, seed spread) are warnings,
and measured on the default study they put a 1-layer model that cannot do induction
(accuracy 0.23) above the 2-layer one that does (0.84) when they decided the order.
Every component behind the rank (seed statistics, the paired difference against the
baseline, the stability components and status counts) is a column, so the rank can be
checked by eye.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ablate.analysis.stability import TIER_NAMES
from ablate.tables import FAILURE_COLUMNS


def leaderboard(runs: pd.DataFrame, seeds: pd.DataFrame, stability: pd.DataFrame) -> pd.DataFrame:
    meta = runs.groupby(["task", "variant"], sort=False)[["group", "overrides"]].first()
    board = stability.merge(meta.reset_index(), on=["task", "variant"], how="left")
    for metric in ("val_loss", "val_acc"):
        s = seeds[seeds["metric"] == metric].drop(columns=["metric", "n_runs", "reference"])
        s = s.rename(
            columns={c: f"{metric}_{c}" for c in s.columns if c not in ("task", "variant")}
        )
        board = board.merge(s, on=["task", "variant"], how="left")
    board["tier_name"] = board["tier"].map(TIER_NAMES)
    loss = board["val_loss_mean"].astype(float)
    board["_loss"] = np.where(np.isfinite(loss), loss, np.inf)
    board["failure_rate"] = 1.0 - board["n_ok"] / board["n_runs"]
    board = board.sort_values(["task", "failure_rate", "_loss", "variant"]).drop(columns="_loss")
    board.insert(0, "rank", board.groupby("task").cumcount() + 1)
    first = ["rank", "task", "variant", "group", "overrides", "tier", "tier_name", "score"]
    rest = [c for c in board.columns if c not in first]
    return board[first + rest].reset_index(drop=True)


def failures(runs: pd.DataFrame) -> pd.DataFrame:
    """Every run whose status is not ok, with the reason and where its log is."""
    bad = runs[runs["status"].astype(str) != "ok"]
    return bad.sort_values(["task", "variant", "seed"])[list(FAILURE_COLUMNS)].reset_index(
        drop=True
    )
