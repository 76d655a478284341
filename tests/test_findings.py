"""The findings sentences, from hand-built analysis tables: what they say, and what not."""

from __future__ import annotations

import numpy as np
import pandas as pd
from fake_study import fake_runs, run_row

from ablate.report.findings import (
    effect_sentences,
    factorial_sentences,
    failure_sentences,
    interval,
    scaling_sentences,
    task_findings,
)


def seeds_row(
    variant,
    metric="val_loss",
    diff=np.nan,
    lo=np.nan,
    hi=np.nan,
    p=np.nan,
    significant=False,
    n_pairs=3,
    effect=np.nan,
):
    return {
        "task": "copy",
        "variant": variant,
        "metric": metric,
        "reference": "baseline",
        "n_pairs": 0 if variant == "baseline" else n_pairs,
        "diff_mean": diff,
        "diff_ci_lo": lo,
        "diff_ci_hi": hi,
        "diff_ci_lo_adj": lo,  # the adjusted interval (seeds.py): here the same numbers
        "diff_ci_hi_adj": hi,
        "diff_p": p,
        "diff_p_adj": p,
        "diff_significant": significant,
        "diff_effect": effect,
    }


def pos_runs():
    """baseline (learned) and pos=rope, 3 seeds; rope is lower by 0.30, 0.29, 0.31."""
    rows = []
    for seed, gap in zip((0, 1, 2), (0.30, 0.29, 0.31), strict=True):
        rows.append(run_row("baseline", seed, task="copy", final_val_loss=2.0 + seed / 100))
        rows.append(
            run_row(
                "pos=rope",
                seed,
                {"model.pos": "rope"},
                task="copy",
                final_val_loss=2.0 + seed / 100 - gap,
            )
        )
    return fake_runs(rows)


def test_a_significant_effect_names_size_interval_baseline_value_and_seeds():
    seeds = pd.DataFrame(
        [
            seeds_row("baseline"),
            seeds_row(
                "pos=rope",
                diff=-0.30,
                lo=-0.3248,
                hi=-0.2752,
                p=0.002,
                significant=True,
                effect=-30.0,
            ),
        ]
    )
    (sentence,) = effect_sentences(seeds, pos_runs(), "baseline")
    assert sentence == (
        "pos=rope lowers val loss by 0.30 [0.28, 0.32] nats (adjusted interval) against "
        "baseline (model.pos=learned), 3/3 seeds (adjusted p 0.002, effect size -30)."
    )


def test_nothing_significant_says_so_and_names_no_effect():
    seeds = pd.DataFrame(
        [
            seeds_row("baseline"),
            seeds_row("pos=rope", diff=-0.01, lo=-0.05, hi=0.03, p=0.4),
            seeds_row("pos=none", diff=0.02, lo=-0.02, hi=0.06, p=0.3),
            seeds_row("pos=none", "val_acc", diff=0.01, lo=-0.01, hi=0.02, p=0.5),
        ]
    )
    (sentence,) = effect_sentences(seeds, pos_runs(), "baseline")
    assert sentence == (
        "No variant's val loss differs significantly from baseline's after adjusting for 2 "
        "comparisons (smallest adjusted p 0.3, pos=none)."
    )
    assert "lowers" not in sentence and "raises" not in sentence


def test_one_seed_tests_nothing():
    seeds = pd.DataFrame([seeds_row("baseline"), seeds_row("pos=rope", diff=-0.3, n_pairs=1)])
    assert effect_sentences(seeds, pos_runs(), "baseline") == [
        "No variant has two seeds paired with baseline: no difference is tested."
    ]


def test_failures_name_status_count_and_reason():
    rows = [run_row("baseline", s, task="copy") for s in (0, 1, 2)]
    rows += [
        run_row(
            "lr=1",
            s,
            {"train.lr": 1.0},
            task="copy",
            status="diverged",
            reason="loss is nan at step 30" if s else "loss is inf at step 12",
        )
        for s in (1, 2)
    ]
    rows += [run_row("lr=1", 0, {"train.lr": 1.0}, task="copy")]
    assert failure_sentences(fake_runs(rows)) == [
        "2 of 6 runs diverged: lr=1 2/3 seeds (e.g. lr=1: loss is nan at step 30)."
    ]
    assert failure_sentences(fake_runs(rows[:3])) == ["Every run finished with status ok."]


def fit_row(family, identifiable, **kw):
    row = {
        "x": "n_params_non_embedding",
        "family": family,
        "n_sizes": 4,
        "model": "saturating",
        "reason": "4 sizes: E + A N^-alpha",
        "identified": identifiable,
        "E": 1.2,
        "alpha": 0.35,
        "alpha_ci_lo": 0.3,
        "alpha_ci_hi": 0.4,
        "loss_at_10x": 1.381,
        "loss_at_10x_ci_lo": 1.35,
        "loss_at_10x_ci_hi": 1.41,
    }
    return row | kw


def test_scaling_gives_a_number_only_where_the_law_is_identified():
    fits = pd.DataFrame(
        [
            fit_row("d_model (n_layer=2)", True),
            fit_row(
                "n_layer (d_model=64)",
                False,
                reason="3 sizes: E not identifiable",
                loss_at_10x=np.nan,
            ),
            fit_row("ignored", True, x="flops"),
        ]
    )
    ok, no = scaling_sentences(fits)
    assert ok == (
        "Scaling, family d_model (n_layer=2) (4 sizes): L = E + A·N^-α with α = 0.35 "
        "[0.30, 0.40], E = 1.2; predicted val loss at 10× the largest size 1.38 [1.35, 1.41]."
    )
    assert no == (
        "Scaling, family n_layer (d_model=64) (4 sizes): the law is not identifiable "
        "(3 sizes: E not identifiable); no extrapolation."
    )
    assert not any(ch.isdigit() for ch in no.split("identifiable")[-1].replace("3 sizes", ""))


def test_factorial_names_the_terms_significant_after_adjustment_or_none():
    """Only terms significant after Holm across the grid's terms are named, each with its
    adjusted interval and adjusted p; a term whose raw interval excludes 0 but whose
    adjusted p does not pass is not named."""

    def term(grid, name, effect, lo_adj, hi_adj, p_adj, raw=(-1.0, 1.0)):
        return {
            "grid": grid,
            "term": name,
            "order": name.count(":") + 1,
            "effect": effect,
            "ci_lo": raw[0],
            "ci_hi": raw[1],
            "ci_lo_adj": lo_adj,
            "ci_hi_adj": hi_adj,
            "p_adj": p_adj,
            "significant": p_adj < 0.05,
        }

    effects = pd.DataFrame(
        [
            term("g", "model.pos", -0.2, -0.27, -0.13, 0.001),
            term("g", "model.qk_norm", 0.03, -0.01, 0.07, 0.09, raw=(0.001, 0.059)),
            term("g", "model.pos:model.qk_norm", 0.08, 0.01, 0.15, 0.03),
            term("h", "train.lr", 0.01, -0.12, 0.14, 0.8),
        ]
    )
    g, h = factorial_sentences(effects)
    assert g == (
        "Grid g: 2 of 3 effects on val loss are significant after adjusting across the "
        "grid's terms; the largest (nats, adjusted intervals): model.pos -0.20 [-0.27, -0.13] "
        "(adjusted p 0.001); model.pos:model.qk_norm 0.08 [0.01, 0.15] (adjusted p 0.03)."
    )
    assert "qk_norm 0.03" not in g
    assert h == (
        "Grid h: no main effect or interaction on val loss is distinguishable from zero "
        "after adjusting across its 1 terms."
    )


def test_interval_decimals_follow_its_width():
    assert interval(0.3, 0.29, 0.31) == "0.30 [0.29, 0.31]"
    assert interval(1.23456, 1.2341, 1.2350) == "1.2346 [1.2341, 1.2350]"
    assert interval(2.0, np.nan, np.nan) == "2.00 (no interval)"


def test_task_findings_put_the_best_and_its_ties_first():
    """The first sentence names position 1, the best mean, not a tied variant picked by name
    (pos=alibi sorts before pos=rope, but its mean is worse)."""

    def row(position, variant, mean, tied):
        return {
            "position": position,
            "variant": variant,
            "val_loss_mean": mean,
            "val_loss_ci_lo": mean - 0.02,
            "val_loss_ci_hi": mean + 0.02,
            "tied_with_best": tied,
            "tied_by_spread": False,
            "failure_rate": 0.0,
        }

    board = pd.DataFrame(
        [
            row(1, "pos=rope", 1.70, True),
            row(2, "pos=alibi", 1.71, True),
            row(3, "baseline", 2.00, False),
        ]
    )
    seeds = pd.DataFrame(
        [
            seeds_row("baseline"),
            seeds_row(
                "pos=rope", diff=-0.3, lo=-0.32, hi=-0.28, p=0.01, significant=True, effect=-9
            ),
        ]
    )
    empty = pd.DataFrame(columns=["x", "grid", "multiple", "variant", "loss_mean"])
    t = {
        "leaderboard": board,
        "seeds": seeds,
        "runs": pos_runs(),
        "scaling_fits": empty,
        "effects": empty,
        "length": empty,
        "references": pd.DataFrame(columns=["task", "reference", "val_loss", "seq_len"]),
    }
    out = task_findings(t, "baseline")
    assert out[0] == (
        "Lowest mean val loss: pos=rope (1.70 [1.68, 1.72]). Cannot be ruled out as the "
        "best (MCB, 1): pos=alibi 1.710."
    )
    assert out[1].startswith("pos=rope lowers val loss by 0.30 [0.28, 0.32] nats")
    assert out[2] == "Every run finished with status ok."
    assert len(out) == 3


def test_an_interval_shows_each_ends_first_digit_so_zero_is_never_hidden():
    from ablate.report.difference_findings import interval

    assert interval(0.30, 0.29, 0.31) == "0.30 [0.29, 0.31]"  # the width sets 2 decimals
    # an end near 0 keeps its digit: this interval excludes 0, and reads so
    assert interval(0.0196, 0.0014, 0.0376) == "0.020 [0.001, 0.038]"
    assert interval(-0.2, -0.31, -0.0002) == "-0.2000 [-0.3100, -0.0002]"  # at most 4
    assert interval(0.5, float("nan"), float("nan")) == "0.50 (no interval)"
