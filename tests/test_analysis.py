"""Analysis on known answers: seed statistics, paired CIs, stability, LR sensitivity, ranking."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from fake_study import default_runs, fake_runs, run_row, write_study

from ablate.analysis.analyse import analyse_study
from ablate.analysis.load import StudyError
from ablate.analysis.lr_sensitivity import lr_sensitivity
from ablate.analysis.ranking import leaderboard
from ablate.analysis.seeds import seed_stats
from ablate.analysis.stability import logit_growth, stability_score, stability_table, tier

TASK_TEXT = "shakespeare_char"


def _board(runs: pd.DataFrame, probes: pd.DataFrame | None = None) -> pd.DataFrame:
    probes = probes if probes is not None else pd.DataFrame(columns=["run_id", "metric"])
    return leaderboard(runs, seed_stats(runs), stability_table(runs, probes))


def test_seed_stats_match_numpy_and_skip_diverged_runs():
    losses = [2.0, 2.3, 2.1]
    rows = [run_row("baseline", s, final_val_loss=v) for s, v in enumerate(losses)]
    rows.append(run_row("baseline", 3, status="diverged", final_val_loss=9.0))
    stats = seed_stats(fake_runs(rows)).set_index("metric").loc["val_loss"]
    assert stats["n_runs"] == 4 and stats["n_used"] == 3
    assert stats["mean"] == pytest.approx(np.mean(losses))
    assert stats["std"] == pytest.approx(np.std(losses, ddof=1))
    assert stats["min"] == 2.0 and stats["max"] == 2.3


def test_paired_ci_of_identical_variants_contains_zero():
    rng = np.random.default_rng(0)
    losses = 2.0 + rng.normal(0, 0.05, 5)
    rows = []
    for name in ("baseline", "copy"):  # same losses seed by seed
        rows += [
            run_row(name, s, {"model.qk_norm": name == "copy"}, final_val_loss=v)
            for s, v in enumerate(losses)
        ]
    row = seed_stats(fake_runs(rows)).query("variant == 'copy' and metric == 'val_loss'").iloc[0]
    assert row["n_pairs"] == 5
    assert row["diff_ci_lo"] == row["diff_ci_hi"] == 0.0  # every difference is exactly 0
    assert row["diff_p"] == 1.0 and not row["diff_significant"]


def test_paired_difference_pairs_by_seed():
    # seed-to-seed noise (0.5) dwarfs the effect (-0.1); pairing by seed removes it
    base = [2.0, 2.5, 3.0, 3.5]
    rows = [run_row("baseline", s, final_val_loss=v) for s, v in enumerate(base)]
    rows += [
        run_row("better", s, {"model.n_head": 8}, final_val_loss=v - 0.1 + 0.001 * s)
        for s, v in enumerate(base)
    ]
    row = seed_stats(fake_runs(rows)).query("variant == 'better' and metric == 'val_loss'").iloc[0]
    assert row["diff_mean"] == pytest.approx(-0.1 + 0.0015)
    d = np.array([-0.1 + 0.001 * s for s in range(4)])  # the per-seed differences
    half = 3.182446305284263 * d.std(ddof=1) / 2  # t(0.975, 3) * sd / sqrt(4)
    assert row["diff_ci_lo"] == pytest.approx(d.mean() - half)
    assert row["diff_ci_hi"] == pytest.approx(d.mean() + half) and row["diff_ci_hi"] < 0
    assert row["diff_significant"] and row["diff_p_adj"] == row["diff_p"]  # one comparison


def test_stability_score_matches_the_documented_formula():
    c = {
        "diverged_rate": 1 / 3,
        "stalled_rate": 0.0,
        "collapse_rate": 0.0,
        "oom_rate": 0.0,
        "sharp_rate": 0.0,
        "unstable_rate": 0.0,
        "loss_spikes": 2.5,
        "grad_spikes": 1.0,
        "max_spikes": 5.0,
        "grad_ratio": 1000.0,
        "attn_logit_max": 10 * math.sqrt(10),
        "seed_cv": 0.025,
    }
    # 100 - 100/3 - 10*0.5 (spikes) - 10*1 (grad, clipped) - 10*0.5 (logit) - 10*0.5 (spread)
    assert stability_score(c) == pytest.approx(100 - 100 / 3 - 5 - 10 - 5 - 5)
    assert tier(stability_score(c)) == "D"
    # a run that ran out of memory did not finish: it costs what a diverged one costs
    oom = c | {"diverged_rate": 0.0, "oom_rate": 1 / 3}
    assert stability_score(oom) == pytest.approx(stability_score(c))
    calm = c | {
        "diverged_rate": 0.0,
        "loss_spikes": 0.0,
        "grad_spikes": 0.0,
        "grad_ratio": 5.0,
        "attn_logit_max": 6.0,
        "seed_cv": float("nan"),
    }
    assert stability_score(calm) == 100.0 and tier(100.0) == "A"
    assert [tier(s) for s in (90, 89.9, 75, 50, 49.9)] == ["A", "B", "B", "C", "D"]


def test_collapse_is_a_whole_layer_and_a_sharp_head_in_a_learning_run_only_warns():
    rows = [run_row("baseline", s) for s in range(3)]
    rows[2] |= {"status": "collapsed"}
    runs = fake_runs(rows)
    entropies = {  # run -> {layer: [per-head entropy at the last probe]}
        0: {0: [0.01, 0.02], 1: [0.5, 0.6]},  # layer 0 all one-hot: warning (run learned)
        1: {0: [0.01, 0.6], 1: [0.01, 0.7]},  # one sharp head per layer (induction): fine
        2: {0: [0.01, 0.02], 1: [0.5, 0.6]},  # collapsed and did not learn
    }
    probe_rows = [
        {"run_id": rows[r]["run_id"], "step": 50, "layer": layer, "head": h}
        | {"metric": "attn_entropy", "value": v}
        for r, layers in entropies.items()
        for layer, heads in layers.items()
        for h, v in enumerate(heads)
    ]
    probe_rows += [  # an earlier probe does not count, and logit growth uses the first one
        {"run_id": rows[1]["run_id"], "step": s, "layer": 0, "head": h} | {"metric": m, "value": v}
        for s, h, m, v in [
            (0, 0, "attn_entropy", 0.001),
            (0, 1, "attn_entropy", 0.001),
            (0, 0, "attn_logit_max", 0.5),
            (0, 1, "attn_logit_max", 0.2),
            (50, 0, "attn_logit_max", 3.0),
            (50, 1, "attn_logit_max", 7.5),
        ]
    ]
    probes = pd.DataFrame(probe_rows)
    assert logit_growth(probes)[rows[1]["run_id"]] == pytest.approx(7.5 - 0.5)
    row = stability_table(runs, probes).iloc[0]
    assert row["collapse_rate"] == pytest.approx(1 / 3)  # status collapsed: did not train
    assert row["sharp_rate"] == pytest.approx(1 / 3)  # run 0 only: a whole layer, learned
    assert row["attn_logit_growth"] == pytest.approx(7.0)  # the other runs have no logits
    # 100/3 for the failed run, 10/3 for the warning; nothing else is charged here
    assert row["score"] == pytest.approx(100 - 100 / 3 - 10 / 3 - 10 * (np.log10(4) - 1) * 0)


def test_variant_diverging_on_two_of_three_seeds_ranks_below_a_stable_one():
    rows = [run_row("baseline", s, final_val_loss=2.0 + 0.01 * s) for s in range(3)]
    rows += [run_row("steady", s, {"model.n_head": 8}, final_val_loss=1.9) for s in range(3)]
    rows += [run_row("risky", 0, {"train.lr": 0.05}, final_val_loss=1.5)]  # best loss...
    rows += [
        run_row("risky", s, {"train.lr": 0.05}, status="diverged", final_val_loss=np.nan)
        for s in (1, 2)
    ]  # ...but 2 of 3 seeds diverged
    board = _board(fake_runs(rows)).set_index("variant")
    assert board.loc["risky", "tier"] == "D" and board.loc["steady", "tier"] == "A"
    assert board.loc["risky", "diverged_rate"] == pytest.approx(2 / 3)
    assert list(board.sort_values("position").index) == ["steady", "baseline", "risky"]


def test_soft_warnings_do_not_outrank_a_large_loss_gap():
    """All runs ok: a noisy variant that learns the task beats a smooth one that does not,
    though its seed spread costs it stability points (the induction case of the default
    study)."""
    rows = [  # noisy: seed spread, grad-norm spikes, large attention logits
        run_row(
            "baseline",
            s,
            final_val_loss=0.3 + 0.4 * s,
            n_grad_spikes=20,
            final_attn_logit_max=100.0,
        )
        for s in range(3)
    ]
    rows += [run_row("shallow", s, {"model.n_layer": 1}, final_val_loss=2.2) for s in range(3)]
    board = _board(fake_runs(rows)).set_index("variant")
    assert board.loc["baseline", "tier"] == "C" and board.loc["shallow", "tier"] == "A"
    assert (board["failure_rate"] == 0).all()
    assert list(board.sort_values("position").index) == ["baseline", "shallow"]


def test_lr_sensitivity_equals_hand_computed_value():
    l0 = 3.0
    table = {  # lr -> per-seed (final_val_loss, status)
        1e-3: [(2.0, "ok"), (2.2, "ok")],
        3e-3: [(1.8, "ok"), (1.8, "ok")],
        1e-2: [(1.9, "ok"), (3.5, "stalled")],  # 3.5 > l0: capped at l0
        3e-2: [(np.nan, "diverged"), (1.5, "diverged")],  # diverged: l0 whatever the loss
    }
    rows = []
    for lr, runs in table.items():
        name = "baseline" if lr == 1e-3 else f"lr={lr:g}"
        rows += [
            run_row(name, s, {"train.lr": lr}, initial_loss=l0, final_val_loss=v, status=st)
            for s, (v, st) in enumerate(runs)
        ]
    rows += [run_row("n_head=8", s, {"model.n_head": 8}) for s in range(2)]  # not in the family
    summary, curves = lr_sensitivity(fake_runs(rows))
    # loss(lr) = 2.1, 1.8, 2.45, 3.0; l* = 1.8; mean of (0.3, 0, 0.65, 1.2) = 0.5375
    (row,) = summary.to_dict("records")
    assert row["family"] == "base" and row["n_lr"] == 4 and row["l0"] == l0
    assert row["l_star"] == pytest.approx(1.8) and row["best_lr"] == 3e-3
    assert row["sensitivity"] == pytest.approx(0.5375)
    assert row["n_diverged"] == 2 and "n_head=8" not in row["variants"]
    # per seed: seed 0 (2.0, 1.8, 1.9, 3.0) -> 0.375; seed 1 (2.2, 1.8, 3.0, 3.0) -> 0.7
    assert row["sensitivity_seed_std"] == pytest.approx(np.std([0.375, 0.7], ddof=1))
    assert curves.sort_values("lr")["loss_mean"].tolist() == pytest.approx([2.1, 1.8, 2.45, 3.0])


def test_lr_sensitivity_needs_three_learning_rates():
    rows = [run_row(f"lr={lr}", 0, {"train.lr": lr}) for lr in (1e-3, 3e-3)]
    summary, curves = lr_sensitivity(fake_runs(rows))
    assert summary.empty and curves.empty and "sensitivity" in summary.columns


def test_analysis_is_per_task():
    rows = [run_row("baseline", s, final_val_loss=2.0) for s in range(2)]
    rows += [run_row("baseline", s, task="induction", final_val_loss=0.5) for s in range(2)]
    rows += [
        run_row("n_layer=1", s, {"model.n_layer": 1}, task="induction", final_val_loss=0.4)
        for s in range(2)
    ]
    board = _board(fake_runs(rows))
    assert sorted(board["task"].unique()) == ["induction", TASK_TEXT]
    induction = board[board["task"] == "induction"].sort_values("position")
    assert induction["variant"].tolist() == ["n_layer=1", "baseline"]
    assert induction["val_loss_diff_mean"].iloc[0] == pytest.approx(-0.1)
    assert board[board["task"] == TASK_TEXT]["position"].tolist() == [1]


def test_analyse_study_writes_every_table_deterministically(tmp_path):
    study = write_study(tmp_path / "fake", default_runs())
    first = analyse_study(study)
    files = {p.name: p.read_bytes() for p in sorted((study / "analysis").glob("*.parquet"))}
    assert set(files) == {f"{name}.parquet" for name in first}
    second = analyse_study(study)
    for name, frame in first.items():
        pd.testing.assert_frame_equal(frame, second[name])
        pd.testing.assert_frame_equal(
            frame, pd.read_parquet(study / "analysis" / f"{name}.parquet")
        )
    assert files == {p.name: p.read_bytes() for p in sorted((study / "analysis").glob("*.parquet"))}
    board = first["leaderboard"]
    for _, task_board in board.groupby("task"):
        assert task_board["position"].tolist() == list(range(1, len(task_board) + 1))
    text = board[board["task"] == TASK_TEXT].set_index("variant")
    assert text.loc["lr=0.03", "tier"] == "D" and text.loc["norm_placement=post", "tier"] == "D"
    assert text.loc["pos=none", "n_collapsed"] == 1
    assert len(first["failures"]) == 6  # 2 diverged + 3 stalled + 1 collapsed
    assert first["lr_sensitivity"]["variants"].iloc[0].count("lr=") == 3


def test_missing_table_or_column_is_named(tmp_path):
    with pytest.raises(StudyError, match="runs.parquet is missing"):
        analyse_study(tmp_path)
    fake_runs([run_row("baseline", 0)]).drop(columns=["final_val_loss"]).to_parquet(
        tmp_path / "runs.parquet"
    )
    with pytest.raises(StudyError, match="final_val_loss"):
        analyse_study(tmp_path)


def test_seeds_of_one_variant_must_share_a_spec():
    rows = [run_row("baseline", 0), run_row("baseline", 1, {"model.n_head": 8})]
    with pytest.raises(StudyError, match="model.n_head"):
        lr_sensitivity(fake_runs(rows))
