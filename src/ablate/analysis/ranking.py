"""The leaderboard: one row per (task, variant), ordered within each task, ties shown.

Order, per task: first by failure rate, the fraction of its runs whose status is not ok
(diverged, stalled, unstable or collapsed: a variant that does not train reliably never
comes before one that does), then by mean final_val_loss over its usable seeds (lower is
better; a variant with no usable loss goes last), then by variant name. `position` is that
strict order (1, 2, 3, ...). The stability score and tier are shown beside it but do not set
it: their soft terms (spikes, grad-norm ratio, logit growth, seed spread, sharp attention)
are warnings, and measured on the default study they put a 1-layer model that cannot do
induction (accuracy 0.23) above the 2-layer one that does (0.84) when they decided the order.

Ties with the best (`tied_with_best`): which variants could have the lowest true mean loss,
given that the best is picked from the same noisy data? Subset selection after Hsu's
multiple comparisons with the best (MCB), with seeds as blocks: among the task's variants
with a usable loss and the lowest failure rate among those (the candidates), variant i is
ruled out when it is worse than some other candidate j beyond a one-sided paired t-test at
level 0.05 / (k - 1), k the number of candidates: mean over shared seeds of
(loss_i - loss_j) > t(1 - 0.05/(k-1), n-1) * sd / sqrt(n). Every candidate not ruled out
is tied with the best; the observed best always is. The true best is ruled out with
probability <= 5 % (Bonferroni over its k - 1 comparisons in place of Dunnett's critical
value: conservative, valid for any correlation and unequal noise). A pair with fewer than
2 shared seeds rules nothing out.
`rank` is 1 for every variant tied with the best and `position` otherwise (competition
ranking: 1, 1, 1, 4, 5, ...). Every component behind the order (seed statistics, the paired
difference against the baseline, the stability components and status counts) is a column,
so the rank can be checked by eye.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ablate.analysis.inference import ALPHA
from ablate.analysis.load import LOSS
from ablate.analysis.seeds import usable
from ablate.analysis.stability import TIER_NAMES
from ablate.probes.status import statuses_where
from ablate.store.tables import FAILURE_COLUMNS

# The leaderboard's first columns, in order; every column of the seed statistics (prefixed
# val_loss_ / val_acc_) and of the stability table follows them.
LEADING = ["rank", "tied_with_best", "position", "task", "variant", "group", "overrides"]
LEADING += ["tier", "tier_name", "score"]
COLUMNS = [*LEADING, "failure_rate", "val_loss_mean", "val_loss_diff_significant"]
COLUMNS += ["val_loss_diff_p_adj"]


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
    fine = sum(board[f"n_{s}"] for s in statuses_where(failure=False))
    board["failure_rate"] = 1.0 - fine / board["n_runs"]
    board = board.sort_values(["task", "failure_rate", "_loss", "variant"]).drop(columns="_loss")
    board["position"] = board.groupby("task").cumcount() + 1
    board["tied_with_best"] = False
    for task, task_board in board.groupby("task", sort=False):
        rates = task_board["failure_rate"]
        has_loss = np.isfinite(task_board["val_loss_mean"].astype(float))
        best_rate = rates[has_loss].min()
        candidates = task_board.loc[has_loss & (rates == best_rate), "variant"].tolist()
        tied = could_be_best(runs[runs["task"] == task], candidates)
        board.loc[task_board.index, "tied_with_best"] = task_board["variant"].isin(tied)
    board["rank"] = np.where(board["tied_with_best"], 1, board["position"])
    rest = [c for c in board.columns if c not in LEADING]
    return board[LEADING + rest].reset_index(drop=True)


def display_order(board: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard in the order every view lists it (the page, the findings, the
    exports, the attention maps): per task (one task's board has no task column), by
    rank, then by variant name."""
    per_task = ["task"] if "task" in board.columns else []
    return board.sort_values([*per_task, "rank", "variant"])


def could_be_best(runs: pd.DataFrame, candidates: list[str], alpha: float = ALPHA) -> list[str]:
    """The candidates not ruled out as the lowest-loss variant (module docstring's rule)."""
    k = len(candidates)
    if k < 2:
        return list(candidates)
    ok = usable(runs[runs["variant"].isin(candidates)], LOSS)
    wide = ok.pivot_table(index="seed", columns="variant", values=LOSS, aggfunc="first")
    loss = wide.reindex(columns=candidates).to_numpy(float)  # seeds x candidates
    keep = []
    for i, name in enumerate(candidates):
        d = loss[:, [i]] - loss  # column j: loss_i - loss_j per seed (NaN: seed not shared)
        n = np.isfinite(d).sum(axis=0)
        enough = (n >= 2) & (np.arange(k) != i)
        if not enough.any():
            keep.append(name)
            continue
        d, n = d[:, enough], n[enough]
        mean = np.nanmean(d, axis=0)
        sd = np.sqrt(np.nansum((d - mean) ** 2, axis=0) / (n - 1))
        margin = stats.t.ppf(1 - alpha / (k - 1), n - 1) * sd / np.sqrt(n)
        if not (mean > margin).any():
            keep.append(name)
    return keep


def failures(runs: pd.DataFrame) -> pd.DataFrame:
    """Every run whose status is a failure, with the reason and where its log is."""
    bad = runs[runs["status"].astype(str).isin(statuses_where(failure=True))]
    return bad.sort_values(["task", "variant", "seed"])[list(FAILURE_COLUMNS)].reset_index(
        drop=True
    )
