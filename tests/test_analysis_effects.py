"""Which choices matter: effects recovered from a synthetic factorial grid; length table."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from fake_study import fake_runs, run_row

from ablate.analysis.effects import effects
from ablate.analysis.inference import holm
from ablate.analysis.length import length_table

# cell means: placement +0.30 (post), lr +0.10 (0.01), +0.15 more for post at lr 0.01
# (a 2 x 2 interaction), qk_norm nothing. Averaged over the other factor:
#   main placement = 0.30 + 0.15 / 2 = 0.375, main lr = 0.10 + 0.15 / 2 = 0.175,
#   interaction placement:lr = 0.15
TRUE = {"model.norm_placement": 0.375, "train.lr": 0.175, "model.norm_placement:train.lr": 0.15}


def _grid_runs(noise: float = 0.01, seeds=range(3), rng_seed: int = 0) -> pd.DataFrame:
    rows = []
    for placement, lr, qk in itertools.product(["pre", "post"], [1e-3, 1e-2], [False, True]):
        over = {"model.norm_placement": placement, "train.lr": lr, "model.qk_norm": qk}
        name = f"g/norm_placement={placement},lr={lr},qk_norm={qk}"
        rows += [run_row(name, s, over, group="g") for s in seeds]
    rows += [run_row("baseline", s) for s in seeds]  # not in the grid
    return _draw(fake_runs(rows), noise, rng_seed)


def _draw(runs: pd.DataFrame, noise: float, rng_seed: int) -> pd.DataFrame:
    """New final losses: the true cell mean, a shift per seed shared by every variant (the
    block), and per-run noise."""
    rng = np.random.default_rng(rng_seed)
    post = (runs["model.norm_placement"] == "post").to_numpy()
    high = (runs["train.lr"] == 1e-2).to_numpy()
    mean = 2.0 + 0.30 * post + 0.10 * high + 0.15 * (post & high)
    block = rng.normal(0, 0.05, runs["seed"].max() + 1)[runs["seed"].to_numpy()]
    return runs.assign(final_val_loss=mean + block + rng.normal(0, noise, len(runs)))


def test_effects_are_recovered_with_intervals_and_ranked_by_size():
    table = effects(_grid_runs(rng_seed=2)).set_index("term")  # coverage: the next test
    assert list(table.index[:3]) == list(TRUE)  # ranked: largest effect first
    for term, truth in TRUE.items():
        row = table.loc[term]
        assert row["effect"] == pytest.approx(truth, abs=0.02)
        assert row["ci_lo"] < truth < row["ci_hi"] and row["ci_lo"] > 0
        assert row["p_value"] < 1e-4
    assert table.loc["model.norm_placement", "detail"] == "model.norm_placement: pre -> post"
    assert table.loc["model.norm_placement", "order"] == 1
    assert table.loc["model.norm_placement:train.lr", "order"] == 2
    assert table.loc["model.norm_placement:train.lr", "detail"] == (
        "model.norm_placement pre -> post costs more at train.lr=0.01 than at train.lr=0.001"
    )
    null = table.loc["model.qk_norm"]
    assert null["effect"] < 0.02 and null["p_value"] > 0.01  # qk_norm does nothing
    # 24 runs; 1 intercept + 3 main + 3 interactions + 2 seed blocks = 9 parameters
    assert (table["n_runs"] == 24).all() and (table["df"] == 24 - 9).all()
    assert set(table["grid"]) == {"g"} and len(table) == 6
    # one family: Holm over the grid's 6 terms; each 2-level term is one contrast, whose
    # t-test is the F-test, so the adjusted interval excludes 0 exactly when significant
    assert table["p_adj"].to_numpy() == pytest.approx(holm(table["p_value"].to_numpy()))
    assert (table["significant"] == (table["ci_lo_adj"] > 0)).all()
    assert (table["ci_lo_adj"] < table["ci_lo"]).all() and (table["n_contrasts"] == 1).all()
    assert list(table.loc[list(TRUE), "significant"]) == [True] * 3


def test_effect_intervals_cover_and_null_terms_are_rarely_significant():
    """Over 120 simulated grids: the 95 % intervals of the three true effects cover >= 92 %
    (measured 95 % over 200), and each of the three null terms has p < 0.05 in <= 10 %
    (measured 4.5-6 % over 200)."""
    covered, null_p = [], []
    base = _grid_runs()
    nulls = ["model.qk_norm", "model.qk_norm:train.lr", "model.norm_placement:model.qk_norm"]
    for r in range(120):
        table = effects(_draw(base, noise=0.05, rng_seed=r)).set_index("term")
        covered += [table.loc[t, "ci_lo"] <= v <= table.loc[t, "ci_hi"] for t, v in TRUE.items()]
        null_p.append(table.loc[nulls, "p_value"].to_numpy(float))
    assert np.mean(covered) >= 0.92
    assert ((np.array(null_p) < 0.05).mean(axis=0) <= 0.10).all()


def test_length_table_per_multiple_with_bounded_interval_and_skipped_lengths():
    rows = [run_row("baseline", s, {"data.seq_len": 32}) for s in range(3)]
    rows.append(run_row("baseline", 3, {"data.seq_len": 32}, status="diverged"))
    runs = fake_runs(rows)
    evals = []
    for s, row in enumerate(rows):
        for step in (50, 100):
            for seq_len, loss in [(32, 1.0 + 0.1 * s), (64, 2.0 + 0.1 * s), (128, np.nan)]:
                evals.append(
                    {"run_id": row["run_id"], "variant": "baseline", "seed": s}
                    | {"task": row["task"], "step": step, "split": "val", "seq_len": seq_len}
                    | {"loss": loss + (step == 50), "token_acc": 0.5, "note": ""}
                )
    table = length_table(runs, pd.DataFrame(evals)).set_index(["multiple", "metric"])
    two = table.loc[(2.0, "loss")]
    assert two["n"] == 3 and two["seq_len"] == 64  # diverged run left out, last step only
    assert two["mean"] == pytest.approx(2.1)
    # analysis/inference.py: the hull of the t-interval (cut at 0) and the t-interval of
    # z = log(x + c), c = 0.5 * mean, mapped back. Low noise: the log's end is the higher one
    half = 4.302652729911275 * 0.1 / np.sqrt(3)  # t(0.975, 2) * sd / sqrt(3)
    z = np.log(np.array([2.0, 2.1, 2.2]) + 1.05)
    z_hi = z.mean() + 4.302652729911275 * z.std(ddof=1) / np.sqrt(3)
    assert (two["ci_lo"], two["ci_hi"]) == pytest.approx((2.1 - half, np.exp(z_hi) - 1.05))
    assert 0 < two["ci_hi"] - (2.1 + half) < half**2 / (3 * 2.1)  # the curvature: ~ h^2 / 3m
    assert table.loc[(4.0, "loss"), "n"] == 0 and table.loc[(4.0, "loss"), "n_skipped"] == 3
    assert table.loc[(1.0, "token_acc"), "mean"] == 0.5
