"""Tuning (study/tuning.py, analysis/tuning_choice.py): the config, the two stages' runs, and the
choice on hand-built tuning tables, each expectation worked out from the stated rule."""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest

from ablate.analysis.tuning_choice import choose, tuning_table
from ablate.study.comparison import comparison_candidates
from ablate.study.expand import ConfigError, expand_study
from ablate.study.tuning import COMPARE, TUNE

LR = "train.lr"
GRID = {LR: [1e-3, 3e-3, 1e-2]}
BASE = {LR: 3e-3}

STUDY = {
    "study": "t",
    "seeds": [0, 1],
    "base": {
        "model": {"d_model": 16, "n_layer": 1, "n_head": 2, "context": 32},
        "train": {"steps": 20, "batch_size": 8, "lr": 3e-3, "warmup_steps": 2},
        "data": {"task": "induction", "seq_len": 16, "vocab": 16},
    },
    "ablations": {"model.norm": ["rmsnorm"]},
    "tune": {LR: [1e-3, 1e-2], "seeds": [100, 101]},
}


def runs(rows):
    """Tuning runs from (variant, lr, seed, status, loss)."""
    frame = pd.DataFrame(rows, columns=["variant", LR, "seed", "status", "final_val_loss"])
    return frame.assign(task="t", initial_loss=3.0)


def test_the_lowest_mean_over_the_tuning_seeds_is_chosen():
    table = tuning_table(
        runs(
            [
                ("b", 1e-3, 100, "ok", 2.0), ("b", 1e-3, 101, "ok", 2.2),  # mean 2.1
                ("b", 3e-3, 100, "ok", 1.9), ("b", 3e-3, 101, "ok", 2.1),  # mean 2.0
                ("b", 1e-2, 100, "ok", 1.5), ("b", 1e-2, 101, "ok", 2.7),  # mean 2.1, min 1.5
            ]
        ),
        GRID,
        BASE,
    )  # fmt: skip
    assert list(table["value"]) == [1e-3, 3e-3, 1e-2]
    assert list(table["chosen"]) == [False, True, False]
    assert table["loss_mean"].tolist() == pytest.approx([2.1, 2.0, 2.1])
    assert not table["at_edge"].any()  # 3e-3 is inside the grid
    assert list(table["shared"]) == [False, True, False]
    row = table[table["chosen"]].iloc[0]
    lo, hi = row["loss_ci_lo"], row["loss_ci_hi"]
    assert lo < 2.0 < hi and row["n"] == 2 and row["n_failed"] == 0


def test_equal_means_go_to_the_smaller_value():
    table = tuning_table(
        runs(
            [("b", 1e-3, 100, "ok", 2.0), ("b", 3e-3, 100, "ok", 2.0), ("b", 1e-2, 100, "ok", 2.0)]
        ),
        GRID,
        BASE,
    )
    assert table.loc[table["chosen"], "value"].tolist() == [1e-3]
    assert table["at_edge"].all()  # the chosen value is the grid's smallest


def test_a_failed_run_ranks_its_value_below_every_finite_loss():
    rows = [
        ("b", 1e-3, 100, "ok", 2.5), ("b", 1e-3, 101, "ok", 2.5),
        ("b", 3e-3, 100, "ok", 2.4), ("b", 3e-3, 101, "stalled", 2.45),  # lower, but a failure
        ("b", 1e-2, 100, "diverged", math.nan), ("b", 1e-2, 101, "ok", 1.0),
    ]  # fmt: skip
    table = tuning_table(runs(rows), GRID, BASE).set_index("value")
    assert table["chosen"].tolist() == [True, False, False]
    assert table["n_failed"].tolist() == [0, 1, 1]
    assert table.loc[3e-3, "loss_mean"] == pytest.approx(2.4)  # over its finished runs
    assert table.loc[1e-3, "at_edge"]


def test_when_every_value_failed_fewer_failures_then_the_lower_mean_win():
    rows = [
        ("b", 1e-3, 100, "diverged", math.nan), ("b", 1e-3, 101, "diverged", math.nan),
        ("b", 3e-3, 100, "unstable", 2.0), ("b", 3e-3, 101, "ok", 2.2),
        ("b", 1e-2, 100, "unstable", 1.8), ("b", 1e-2, 101, "ok", 2.3),
    ]  # fmt: skip
    table = tuning_table(runs(rows), GRID, BASE).set_index("value")
    # 1e-3: two failures; 3e-3 and 1e-2 one each, mean of their ok runs 2.2 < 2.3
    assert table["chosen"].tolist() == [False, True, False]


def test_each_variant_is_chosen_for_on_its_own():
    rows = [("a", lr, 100, "ok", loss) for lr, loss in zip(GRID[LR], [2.0, 1.9, 1.8], strict=True)]
    rows += [("b", lr, 100, "ok", loss) for lr, loss in zip(GRID[LR], [1.7, 1.9, 2.8], strict=True)]
    chosen = choose(runs(rows), GRID, BASE)
    assert chosen == {("t", "a"): {LR: 1e-2}, ("t", "b"): {LR: 1e-3}}


def test_a_grid_of_two_keys_has_one_row_per_combination():
    grid = {LR: [1e-3, 1e-2], "train.warmup_steps": [0, 10]}
    rows = []
    for lr in grid[LR]:
        for w in grid["train.warmup_steps"]:
            loss = 2.0 - (lr == 1e-2) * 0.3 - (w == 10) * 0.1  # best: lr 1e-2, warmup 10
            rows.append({"variant": "b", LR: lr, "train.warmup_steps": w, "seed": 100,
                         "status": "ok", "final_val_loss": loss})  # fmt: skip
    frame = pd.DataFrame(rows).assign(task="t", initial_loss=3.0)
    table = tuning_table(frame, grid, {LR: 1e-3, "train.warmup_steps": 10})
    assert len(table) == 4 and table["value"].isna().all()
    best = table[table["chosen"]].iloc[0]
    assert (best[LR], best["train.warmup_steps"]) == (1e-2, 10)
    assert best["point"] == "train.lr=0.01, train.warmup_steps=10" and best["at_edge"]
    assert table["shared"].sum() == 1


def test_lr_sensitivity_is_wortsmans_over_the_tuned_lrs():
    # l0 = 3.0 (initial loss); capped losses 2.0, 1.5, 3.0 (a diverged run counts as l0)
    rows = [
        ("b", 1e-3, 100, "ok", 2.0),
        ("b", 3e-3, 100, "ok", 1.5),
        ("b", 1e-2, 100, "diverged", math.nan),
    ]
    table = tuning_table(runs(rows), GRID, BASE)
    assert table["lr_sensitivity"].iloc[0] == pytest.approx(np.mean([0.5, 0.0, 1.5]))


def test_tuning_runs_then_the_comparison_at_the_chosen_value():
    first = expand_study(copy.deepcopy(STUDY))
    assert {r.stage for r in first} == {TUNE}  # every variant is tuned
    assert len(first) == 2 * 2 * 2  # variants x lrs x tuning seeds
    assert {r.seed for r in first} == {100, 101}
    assert sorted({r.spec.train.lr for r in first}) == [1e-3, 1e-2]
    choice = {("induction", "baseline"): {LR: 1e-2}, ("induction", "norm=rmsnorm"): {LR: 1e-3}}
    both = expand_study(copy.deepcopy(STUDY), choice=choice)
    compare = [r for r in both if r.stage == COMPARE]
    assert {(r.variant, r.seed, r.spec.train.lr) for r in compare} == {
        ("baseline", 0, 1e-2), ("baseline", 1, 1e-2),
        ("norm=rmsnorm", 0, 1e-3), ("norm=rmsnorm", 1, 1e-3),
    }  # fmt: skip
    assert [r.run_id for r in both if r.stage == TUNE] == [r.run_id for r in first]
    # a comparison run at the configured value is the untuned study's run, by its id
    untuned = {k: v for k, v in STUDY.items() if k != "tune"}
    plain = {(r.variant, r.seed): r.run_id for r in expand_study(copy.deepcopy(untuned))}
    at_base = expand_study(copy.deepcopy(STUDY), choice={("induction", "baseline"): {LR: 3e-3}})
    ids = {(r.variant, r.seed): r.run_id for r in at_base if r.stage == COMPARE}
    assert ids == {("baseline", 0): plain[("baseline", 0)], ("baseline", 1): plain[("baseline", 1)]}


def test_only_the_selected_variants_are_tuned():
    config = copy.deepcopy(STUDY) | {
        "tune": {LR: [1e-3, 1e-2], "seeds": [7], "variants": ["baseline"]}
    }
    runs_ = expand_study(config)
    assert {(r.variant, r.stage) for r in runs_} == {("baseline", TUNE), ("norm=rmsnorm", COMPARE)}
    # before the choice, each comparison run of a tuned variant is one candidate per value
    candidates = comparison_candidates(config)
    assert len(candidates) == 2  # baseline x 2 study seeds
    assert [sorted(r.spec.train.lr for r in c) for c in candidates] == [[1e-3, 1e-2]] * 2


@pytest.mark.parametrize(
    "tune, needle",
    [
        ({LR: [1e-3, 1e-2], "seeds": [1]}, "tune.seeds=[1] shares seed(s) [1] with seeds"),
        ({"train.lrr": [1e-3, 1e-2], "seeds": [9]}, "tune.train.lrr: unknown key"),
        ({"model.pos": [1, 2], "seeds": [9]}, "tune.model.pos: not a numeric key"),
        ({"model.qk_norm": [0, 1], "seeds": [9]}, "tune.model.qk_norm: not a numeric key"),
        ({LR: [1e-3], "seeds": [9]}, "tune.train.lr=[0.001]: a tuning grid needs at least 2"),
        ({LR: [1e-3, -1.0], "seeds": [9]}, "tune.train.lr=-1.0 must be > 0"),
        (
            {LR: [1e-3, 1e-2], "seeds": [9], "variants": ["nope*"]},
            "tune.variants: 'nope*' matches no",
        ),
        ({"model.n_layer": [1, 2], "seeds": [9]}, None),  # valid
        ({LR: [1e-3, 1e-2]}, "tune: 'seeds' is a required property"),
    ],
)
def test_bad_tuning_is_refused_with_its_key_and_value_named(tune, needle):
    config = copy.deepcopy(STUDY) | {"tune": tune}
    if needle is None:
        assert expand_study(config)
        return
    with pytest.raises(ConfigError) as error:
        expand_study(config)
    assert needle in str(error.value)


def test_a_variant_that_sets_a_tuned_key_is_refused():
    config = copy.deepcopy(STUDY)
    config["ablations"] = {LR: [1e-2]}
    with pytest.raises(ConfigError, match=r"tune.train.lr: variant 'lr=0.01' sets train.lr itself"):
        expand_study(config)
    config = copy.deepcopy(STUDY)
    config["tasks"] = {"fast": {"train": {"lr": 1e-2}}}
    with pytest.raises(ConfigError, match=r"task 'fast' sets train.lr \(tasks.fast.train.lr\)"):
        expand_study(config)
