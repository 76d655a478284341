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
A tie is a mark beside a row, never a re-sort: every view lists the rows in `position`
order and shows `rank_label`, the position followed by `mark` ("≈": cannot be ruled out as
the best) for the tied rows after the first; position 1 is the best mean among the
candidates. `tied_by_spread` says when a tied variant is among them only because its seeds
disagree: its mean paired difference from the best (`best_diff_mean`, over `best_diff_n`
seeds) would rule it out at the typical spread of the candidates' differences from the best
(`typical_diff_sd`, their median sd) but not at its own (`best_diff_sd`). Every component
behind the order (seed statistics, the paired difference against the baseline, the
stability components and status counts) is a column, so the order can be checked by eye.
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
LEADING = ["position", "rank_label", "mark", "tied_with_best", "tied_by_spread"]
LEADING += ["task", "variant", "group", "overrides", "tier", "tier_name", "tier_reason", "score"]
MARK = "≈"  # beside a row that cannot be ruled out as the best (not the first)
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
    ties = []
    for task, task_board in board.groupby("task", sort=False):
        rates = task_board["failure_rate"]
        has_loss = np.isfinite(task_board["val_loss_mean"].astype(float))
        best_rate = rates[has_loss].min()
        candidates = task_board.loc[has_loss & (rates == best_rate), "variant"].tolist()
        ties.append(ties_with_best(runs[runs["task"] == task], candidates).assign(task=task))
    board = board.merge(pd.concat(ties), on=["task", "variant"], how="left")
    board["tied_with_best"] = board["tied_with_best"].astype("boolean").fillna(False).astype(bool)
    board["tied_by_spread"] = board["tied_by_spread"].astype("boolean").fillna(False).astype(bool)
    marked = board["tied_with_best"] & (board["position"] > 1)
    board["mark"] = np.where(marked, MARK, "")
    board["rank_label"] = board["position"].astype(str) + np.where(marked, " " + MARK, "")
    rest = [c for c in board.columns if c not in LEADING]
    return board[LEADING + rest].reset_index(drop=True)


def display_order(board: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard in the order every view lists it (the page, the findings, the
    exports, the attention maps): per task (one task's board has no task column), by
    position. A tie with the best is a mark beside its row, never a re-sort."""
    per_task = ["task"] if "task" in board.columns else []
    return board.sort_values([*per_task, "position"])


def ties_with_best(runs: pd.DataFrame, candidates: list[str], alpha: float = ALPHA):
    """Per candidate (in position order: the first is the best mean): tied_with_best (not
    ruled out, the module docstring's rule), its paired differences from the best (mean,
    sd, n) and tied_by_spread. One row per candidate."""
    k = len(candidates)
    columns = ["variant", "tied_with_best", "tied_by_spread", "best_diff_mean", "best_diff_sd"]
    columns += ["best_diff_n", "typical_diff_sd"]
    if k == 0:
        return pd.DataFrame(columns=columns)
    ok = usable(runs[runs["variant"].isin(candidates)], LOSS)
    wide = ok.pivot_table(index="seed", columns="variant", values=LOSS, aggfunc="first")
    loss = wide.reindex(columns=candidates).to_numpy(float)  # seeds x candidates
    tied = [not ruled_out(loss, i, alpha) for i in range(k)]
    d = loss - loss[:, [0]]  # column i: loss_i - loss_best per seed (NaN: seed not shared)
    n = np.isfinite(d).sum(axis=0)
    mean = np.array([np.nanmean(c) if m else np.nan for c, m in zip(d.T, n, strict=True)])
    sd = np.array([np.nanstd(c, ddof=1) if m >= 2 else np.nan for c, m in zip(d.T, n, strict=True)])
    others = sd[1:][np.isfinite(sd[1:])]
    typical = float(np.median(others)) if others.size else np.nan
    with np.errstate(invalid="ignore"):
        crit = stats.t.ppf(1 - alpha / max(k - 1, 1), np.maximum(n - 1, 1))
        would_go = (n >= 2) & (mean > crit * typical / np.sqrt(np.maximum(n, 1)))
    by_spread = np.array(tied) & would_go & (np.arange(k) > 0)
    return pd.DataFrame(
        {
            "variant": candidates,
            "tied_with_best": tied,
            "tied_by_spread": by_spread,
            "best_diff_mean": mean,
            "best_diff_sd": sd,
            "best_diff_n": n,
            "typical_diff_sd": typical,
        }
    )


def ruled_out(loss: np.ndarray, i: int, alpha: float = ALPHA) -> bool:
    """Is candidate i (a column of the seeds x candidates losses) worse than some other
    candidate beyond the one-sided paired test of the module docstring?"""
    k = loss.shape[1]
    if k < 2:
        return False
    d = loss[:, [i]] - loss  # column j: loss_i - loss_j per seed (NaN: seed not shared)
    n = np.isfinite(d).sum(axis=0)
    enough = (n >= 2) & (np.arange(k) != i)
    if not enough.any():
        return False
    d, n = d[:, enough], n[enough]
    mean = np.nanmean(d, axis=0)
    sd = np.sqrt(np.nansum((d - mean) ** 2, axis=0) / (n - 1))
    margin = stats.t.ppf(1 - alpha / (k - 1), n - 1) * sd / np.sqrt(n)
    return bool((mean > margin).any())


def could_be_best(runs: pd.DataFrame, candidates: list[str], alpha: float = ALPHA) -> list[str]:
    """The candidates not ruled out as the lowest-loss variant (module docstring's rule)."""
    table = ties_with_best(runs, candidates, alpha)
    return table.loc[table["tied_with_best"].astype(bool), "variant"].tolist()


def failures(runs: pd.DataFrame) -> pd.DataFrame:
    """Every run whose status is a failure, with the reason and where its log is."""
    bad = runs[runs["status"].astype(str).isin(statuses_where(failure=True))]
    return bad.sort_values(["task", "variant", "seed"])[list(FAILURE_COLUMNS)].reset_index(
        drop=True
    )
