"""One statement of what each run status means (probes/status.py STATUSES), read everywhere.

A status's traits decide where its runs go: a failure is counted in the failure rate, the
failures table and the findings; a status whose loss is not that of a finished run (a run
stopped by divergence or by running out of memory) is left out of every statistic.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fake_study import fake_runs, run_row

from ablate.analysis.length import length_table
from ablate.analysis.ranking import failures, leaderboard
from ablate.analysis.seeds import seed_stats
from ablate.analysis.stability import stability_table
from ablate.probes.status import STATUSES, statuses_where
from ablate.report.findings import failure_sentences
from ablate.report.leaderboard import STATUS_COLORS
from ablate.store.tables import FAILURE_COLUMNS, JUDGED

ROOT = Path(__file__).resolve().parents[1]


def board_of(rows):
    runs = fake_runs(rows)
    probes = pd.DataFrame(columns=["run_id", "metric"])
    return runs, leaderboard(runs, seed_stats(runs), stability_table(runs, probes))


def test_statuses_where_selects_by_traits():
    assert statuses_where(failure=False) == ["ok"]
    assert set(statuses_where(final_loss=False)) == {"diverged", "oom"}
    assert set(statuses_where(failure=True, final_loss=True)) == {
        "stalled",
        "unstable",
        "collapsed",
    }


@pytest.mark.parametrize("status", statuses_where(final_loss=False))
def test_a_run_stopped_early_is_in_no_statistic_but_counts_as_failed(status):
    """An oom run keeps the loss of its last evaluation before the error (here 0.5, far
    better than any finished run): that loss must move no mean, no tie and no test."""
    losses = [2.0, 2.2, 2.1]
    rows = [run_row("baseline", s, final_val_loss=v) for s, v in enumerate(losses)]
    rows.append(run_row("baseline", 3, status=status, final_val_loss=0.5, reason="stopped"))
    runs, board = board_of(rows)
    stats = seed_stats(runs).set_index("metric").loc["val_loss"]
    assert stats["n_runs"] == 4 and stats["n_used"] == 3
    assert stats["mean"] == pytest.approx(np.mean(losses))
    row = board.set_index("variant").loc["baseline"]
    assert row["val_loss_mean"] == pytest.approx(np.mean(losses))
    assert row["failure_rate"] == pytest.approx(1 / 4)
    assert row[f"n_{status}"] == 1
    assert failures(runs)["status"].tolist() == [status]
    (sentence,) = failure_sentences(runs)
    assert sentence.startswith(f"1 of 4 runs {status}")


def test_a_failure_whose_loss_is_final_stays_in_the_statistics():
    rows = [run_row("baseline", s, final_val_loss=2.0 + 0.1 * s) for s in range(3)]
    rows.append(run_row("baseline", 3, status="stalled", final_val_loss=3.0, reason="flat"))
    runs, board = board_of(rows)
    stats = seed_stats(runs).set_index("metric").loc["val_loss"]
    assert stats["n_used"] == 4 and stats["mean"] == pytest.approx(np.mean([2.0, 2.1, 2.2, 3.0]))
    assert board.set_index("variant").loc["baseline", "failure_rate"] == pytest.approx(1 / 4)


def test_length_table_leaves_out_runs_stopped_early():
    rows = [run_row("baseline", 0), run_row("baseline", 1, status="oom")]
    runs = fake_runs(rows)
    evals = pd.DataFrame(
        {
            "run_id": runs["run_id"].repeat(2).to_numpy(),
            "task": runs["task"].repeat(2).to_numpy(),
            "variant": runs["variant"].repeat(2).to_numpy(),
            "split": "val",
            "step": 10,
            "seq_len": [64, 128, 64, 128],
            "loss": [2.0, 2.5, 0.1, 0.1],
            "token_acc": [0.3, 0.2, 0.9, 0.9],
        }
    )
    table = length_table(runs, evals)
    loss = table[(table["metric"] == "loss")].set_index("seq_len")["mean"]
    assert loss.to_dict() == {64: 2.0, 128: 2.5}  # the oom run's 0.1 is in no mean
    assert (table["n"] == 1).all()


def test_every_status_has_a_badge_a_stability_count_and_a_description():
    assert set(STATUS_COLORS) == set(STATUSES)
    _, board = board_of([run_row("baseline", 0)])
    assert {f"n_{s}" for s in STATUSES} <= set(board.columns)
    for status in STATUSES:
        assert status in JUDGED["status"]
    assert set(FAILURE_COLUMNS["status"].split(" | ")) == set(statuses_where(failure=True))


def test_the_docs_table_of_statuses_states_each_records_traits():
    """docs/writing-a-study.md lists every status with its two traits, as the records say."""
    text = (ROOT / "docs" / "writing-a-study.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \| (yes|no) \| (yes|no) \|", text, re.M)
    documented = {name: (failure == "yes", final == "yes") for name, failure, final in rows}
    assert documented == {n: (s.failure, s.final_loss) for n, s in STATUSES.items()}
