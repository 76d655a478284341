"""One order and one rank vocabulary: every listing in position order (failure rate, then
mean loss); "cannot be ruled out as the best" is a mark beside a row, never a re-sort and
never position 1 for a row whose mean is not the best. Hand-built runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fake_study import fake_runs, run_row

from ablate.analysis.ranking import MARK, display_order, leaderboard
from ablate.analysis.seeds import seed_stats
from ablate.analysis.stability import stability_table
from ablate.report.exports import key_columns, leaderboard_md, leaderboard_tex
from ablate.report.findings import best_sentence
from ablate.report.leaderboard import leaderboard_rows

# "steady" is best by mean with a tight spread; "noisy" has a much worse mean, but its seeds
# disagree so much that the paired test cannot rule it out; "worse" is ruled out.
LOSSES = {
    "steady": [2.00, 2.01, 2.00],
    "noisy": [1.70, 2.90, 2.30],
    "worse": [2.20, 2.21, 2.20],
    "baseline": [2.10, 2.11, 2.10],
}
OVERRIDES = {
    "steady": {"model.n_head": 8},
    "noisy": {"model.pos": "rope"},
    "worse": {"model.n_head": 1},
    "baseline": {},
}


def board(extra_rows=()) -> pd.DataFrame:
    rows = [
        run_row(v, s, OVERRIDES[v], final_val_loss=loss)
        for v, losses in LOSSES.items()
        for s, loss in enumerate(losses)
    ]
    runs = fake_runs([*rows, *extra_rows])
    probes = pd.DataFrame(columns=["run_id", "metric"])
    return leaderboard(runs, seed_stats(runs), stability_table(runs, probes))


def test_a_noisy_variant_with_a_bad_mean_is_marked_never_listed_first():
    b = board().set_index("variant")
    assert b.loc["steady", "position"] == 1 and b.loc["steady", "rank_label"] == "1"
    assert b.loc["noisy", "tied_with_best"]  # MCB cannot rule it out ...
    assert b.loc["noisy", "position"] == 4  # ... but its mean (2.30) is the worst
    assert b.loc["noisy", "rank_label"] == f"4 {MARK}" and b.loc["noisy", "mark"] == MARK
    assert not b.loc["worse", "tied_with_best"] and b.loc["worse", "mark"] == ""
    assert b.loc["noisy", "tied_by_spread"] and not b.loc["steady", "tied_by_spread"]
    mean = np.mean(np.array(LOSSES["noisy"]) - np.array(LOSSES["steady"]))
    assert b.loc["noisy", "best_diff_mean"] == pytest.approx(mean)


def test_every_view_lists_rows_in_position_order_with_the_same_labels():
    b = board()
    order = ["steady", "baseline", "worse", "noisy"]  # by mean: 2.003, 2.103, 2.203, 2.30
    assert display_order(b)["variant"].tolist() == order
    assert [r["variant"] for r in leaderboard_rows(b)] == order
    keys = key_columns(b)
    assert keys["variant"].tolist() == order
    assert keys["rank"].tolist() == ["1", "2", "3", f"4 {MARK}"]
    md = leaderboard_md(b, "s")
    lines = [line for line in md.splitlines() if line.startswith("| ") and "variant" not in line]
    assert [line.split(" | ")[1] for line in lines] == order
    assert lines[-1].startswith(f"| 4 {MARK} |")
    tex = leaderboard_tex(b, "s")
    assert "4 $\\approx$ & noisy" in tex and "1 & steady" in tex
    assert tex.index("& steady") < tex.index("& baseline") < tex.index("& noisy")


def test_the_findings_name_the_best_mean_first_and_say_why_a_noisy_one_is_tied():
    first, *rest = best_sentence(board())
    assert first.startswith("Lowest mean val loss: steady (2.00")
    assert "Cannot be ruled out as the best (MCB, 1): noisy 2.300." in first
    (spread,) = rest
    assert spread.startswith("noisy is among them only because its seeds disagree")
    assert "+0.297 nats" in spread


def test_a_lower_mean_with_more_failures_is_named_but_listed_below():
    rows = [run_row("risky", 0, {"train.lr": 0.05}, final_val_loss=1.5)]
    rows += [
        run_row("risky", s, {"train.lr": 0.05}, status="diverged", final_val_loss=np.nan)
        for s in (1, 2)
    ]
    b = board(rows)
    assert display_order(b)["variant"].tolist()[-1] == "risky"
    first = best_sentence(b)[0]
    assert first.startswith("Lowest mean val loss: steady")
    assert "risky has a lower mean (1.500) but 67% of its runs failed" in first


def test_a_tier_below_a_says_which_term_moved_it_even_when_every_run_is_ok():
    """Status and tier speak one vocabulary: every run is ok, yet the tier is B; the
    leaderboard says why (the largest penalty, with its value) where the tier is shown."""
    losses = [2.0, 2.6, 2.3]  # a seed spread of 0.3 nats (cv 13 %): the spread term is full
    rows = [
        run_row("baseline", s, final_val_loss=v, n_loss_spikes=2.5) for s, v in enumerate(losses)
    ]
    runs = fake_runs(rows)
    probes = pd.DataFrame(columns=["run_id", "metric"])
    row = leaderboard(runs, seed_stats(runs), stability_table(runs, probes)).iloc[0]
    assert (runs["status"] == "ok").all()
    assert row["tier"] == "B" and row["score"] == pytest.approx(85.0)  # -10 spread, -5 spikes
    # the largest term first, then any costing at least half as much
    assert row["tier_reason"] == "seed spread 0.3 nats (cv 13.0%) (-10); 2.5 spikes per run (-5)"
    assert any(
        r["tier_reason"] == row["tier_reason"] for r in leaderboard_rows(pd.DataFrame([row]))
    )
