"""Intervals a reader can trust: a metric's mean inside its range, and intervals that agree
with the Holm-adjusted p beside them (seeds table) and across a grid's terms (effects).

Expectations are written from the definitions in analysis/inference.py (hand-computed or
computed from the formula), not from the module's output.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fake_study import fake_runs, run_row
from scipy import stats

from ablate.analysis.effects import adjust_across_terms
from ablate.analysis.inference import (
    SHIFT,
    bounded_interval,
    bounded_rows,
    holm_levels,
    t_interval,
)
from ablate.analysis.length import EVAL_METRICS
from ablate.analysis.load import BOUNDS, METRICS
from ablate.analysis.seeds import seed_stats

LOSS, ACC = BOUNDS["val_loss"], BOUNDS["val_acc"]
T2 = 4.302652729911275  # t(0.975, 2)
ROOT = Path(__file__).resolve().parents[1]


def test_every_metric_with_an_interval_has_its_range_stated_once():
    assert set(METRICS) | set(EVAL_METRICS) <= set(BOUNDS)
    assert BOUNDS["val_loss"] == (0.0, np.inf) and BOUNDS["val_acc"] == (0.0, 1.0)
    assert BOUNDS["token_acc"] == BOUNDS["val_acc"] and BOUNDS["loss"] == BOUNDS["val_loss"]


def test_the_interval_is_the_hull_of_the_cut_t_interval_and_the_shifted_log_one():
    x = np.array([0.2, 0.5, 1.4])  # skewed losses: the t-interval goes below 0
    m, h = x.mean(), T2 * x.std(ddof=1) / np.sqrt(3)
    assert m - h < 0
    c = SHIFT * m  # distances from the bound 0, shifted by half their mean
    z = np.log(x + c)
    hz = T2 * z.std(ddof=1) / np.sqrt(3)
    expected = (0.0, max(m + h, np.exp(z.mean() + hz) - c))
    assert bounded_interval(x, LOSS) == pytest.approx(expected)
    assert expected[1] > m + h  # the long side is the log scale's


def test_an_accuracy_interval_uses_both_distances():
    x = np.array([0.90, 0.97, 0.99])
    m, h = x.mean(), T2 * x.std(ddof=1) / np.sqrt(3)
    c0, c1 = SHIFT * m, SHIFT * (1 - m)
    z = np.log((x + c0) / (1 - x + c1))
    hz = T2 * z.std(ddof=1) / np.sqrt(3)

    def back(v):  # solve u + c0 = e^v (1 - u + c1) for u
        return (np.exp(v) * (1 + c1) - c0) / (1 + np.exp(v))

    lo, hi = back(z.mean() - hz), back(z.mean() + hz)
    assert bounded_interval(x, ACC) == pytest.approx((min(m - h, lo), min(1.0, max(m + h, hi))))
    assert m + h > 1 and bounded_interval(x, ACC)[1] == 1.0


ADVERSARIAL = [
    ([0.01, 3.0], LOSS),
    ([0.0, 0.0, 0.5], LOSS),
    ([0.0, 0.0, 0.0], LOSS),
    ([1e-12, 5.0, 1e-12, 1e-12], LOSS),
    ([1e-4, 2e-4, 0.9], LOSS),
    ([1.0, 1.0, 0.9], ACC),
    ([1.0, 1.0, 1.0], ACC),
    ([0.0, 0.0, 1.0], ACC),
    ([0.0, 1.0], ACC),
    ([1e-9, 0.02, 0.0, 0.01, 0.03], ACC),
    ([1 - 1e-9, 0.5, 1.0], ACC),
]


@pytest.mark.parametrize(("values", "bounds"), ADVERSARIAL)
def test_never_outside_the_range_and_always_around_the_mean(values, bounds):
    lo, hi = bounded_interval(values, bounds)
    t_lo, t_hi = np.clip(t_interval(values), *bounds)
    assert bounds[0] <= lo <= np.mean(values) <= hi <= bounds[1]
    assert lo <= t_lo and t_hi <= hi  # never narrower than the t-interval inside the range


def test_never_outside_the_range_on_heavy_tailed_draws():
    rng = np.random.default_rng(0)
    for n in (2, 3, 5, 10):
        for x, bounds in [
            (rng.lognormal(-3, 4, (2000, n)), LOSS),
            (np.where(rng.random((2000, n)) < 0.5, 0.0, rng.exponential(1, (2000, n))), LOSS),
            (np.clip(rng.beta(0.2, 0.2, (2000, n)).round(3), 0, 1), ACC),
        ]:
            lo, hi = bounded_rows(x, bounds)
            assert (bounds[0] <= lo).all() and (hi <= bounds[1]).all()
            assert (lo <= x.mean(axis=1) + 1e-12).all() and (x.mean(axis=1) <= hi + 1e-12).all()


def test_one_value_has_no_interval_and_two_get_the_cut_t_interval():
    assert np.isnan(bounded_interval([0.5], LOSS)).all()
    assert np.isnan(bounded_interval([], ACC)).all()
    assert np.isnan(bounded_interval([0.5, np.nan], LOSS)).all()  # NaN is no value
    # n = 2: t(0.975, 1) = 12.706; mean 1.505, sd 2.9930 / sqrt(2) = 2.1142
    assert bounded_interval([0.01, 3.0], LOSS) == pytest.approx(
        (0.0, 1.505 + 12.7062 * 1.4950), 1e-4
    )


def test_zeros_need_no_epsilon_and_change_nothing_abruptly():
    assert bounded_interval([0.0, 0.0, 0.0], LOSS) == (0.0, 0.0)
    assert bounded_interval([1.0, 1.0, 1.0], ACC) == (1.0, 1.0)
    # a loss of exactly 0 and one of 1e-12 give the same interval (the shift is 0.5 * mean)
    exact, near = bounded_interval([0, 0, 0.5], LOSS), bounded_interval([1e-12, 1e-12, 0.5], LOSS)
    assert exact == pytest.approx(near, rel=1e-9)
    # hand-computed: c = 0.5 / 6; z = log(c), log(c), log(0.5 + c)
    c = 0.5 / 6
    z = np.log([c, c, 0.5 + c])
    assert exact == pytest.approx((0.0, np.exp(z.mean() + T2 * z.std(ddof=1) / np.sqrt(3)) - c))
    # a value beyond the range by rounding is clipped; beyond it for real is an error
    assert bounded_interval([-1e-9, 0.1, 0.2], LOSS)[0] >= 0
    with pytest.raises(ValueError, match="range"):
        bounded_interval([-0.1, 0.1, 0.2], LOSS)
    with pytest.raises(ValueError, match="range"):
        bounded_interval([0.5, 1.2, 0.9], ACC)


@pytest.mark.parametrize("n", [3, 5, 10])
@pytest.mark.parametrize(("centre", "sd", "bounds"), [(2.5, 0.02, LOSS), (0.5, 0.01, ACC)])
def test_symmetric_low_noise_gives_the_t_interval(n, centre, sd, bounds):
    """Mapping back bends an end by about h^2 / d (h the t half-width, d the mean's distance
    from the nearer bound: the transform's curvature over its slope is ~1/d), so each end is
    within h^2 / d of the t-interval's: 1-2.5 % of h here (CV <= 2 %)."""
    rng = np.random.default_rng(n)
    for x in rng.normal(centre, sd, (50, n)):
        t_lo, t_hi = t_interval(x)
        h, d = (t_hi - t_lo) / 2, min(x.mean() - bounds[0], bounds[1] - x.mean())
        lo, hi = bounded_interval(x, bounds)
        assert abs(lo - t_lo) <= h * h / d and abs(hi - t_hi) <= h * h / d


def test_holm_levels_hold_at_the_first_non_rejection():
    # sorted 0.01, 0.03, 0.04, 0.5 (m = 4): 0.01 < 0.05/4 is rejected; 0.03 >= 0.05/3 is not,
    # and from there every level is 0.05/3
    p = [0.01, 0.04, np.nan, 0.03, 0.5]
    assert holm_levels(p) == pytest.approx(
        [0.0125, 0.05 / 3, np.nan, 0.05 / 3, 0.05 / 3], nan_ok=True
    )
    assert holm_levels([0.001, 0.002]) == pytest.approx([0.025, 0.05])  # all rejected
    assert np.isnan(holm_levels([np.nan])).all()


def _diffs(p: float, sd: float = 0.01) -> np.ndarray:
    """Three paired differences whose t-test has two-sided p-value `p` (negative mean)."""
    mean = stats.t.isf(p / 2, 2) * sd / np.sqrt(3)
    return -mean + sd * np.array([-1.0, 0.0, 1.0])


def test_adjusted_interval_of_a_difference_agrees_with_the_adjusted_p():
    """k = 3 comparisons, p = 0.0004, 0.03, 0.04. Holm: 0.0012, 0.06, 0.06. The raw 95 %
    intervals of the last two exclude 0; at their Holm levels (0.05/3, then 0.05/2 held from
    the first non-rejection) the adjusted ones do not. The third is the gap: at its own step's
    level, 0.05, its interval would exclude 0 although Holm does not reject it."""
    base = np.array([2.0, 2.3, 2.1])
    p = {"v1": 0.0004, "v2": 0.03, "v3": 0.04}
    rows = [run_row("baseline", s, final_val_loss=v) for s, v in enumerate(base)]
    for i, (name, pv) in enumerate(p.items()):
        loss = base + _diffs(pv)
        rows += [
            run_row(name, s, {"train.lr": (i + 2) * 1e-4}, final_val_loss=v)
            for s, v in enumerate(loss)
        ]
    table = seed_stats(fake_runs(rows)).query("metric == 'val_loss'").set_index("variant")
    assert table.loc[list(p), "diff_p"].to_numpy() == pytest.approx(list(p.values()))
    assert table.loc[list(p), "diff_p_adj"].to_numpy() == pytest.approx([0.0012, 0.06, 0.06])
    for name, a in {"v1": 0.05 / 3, "v2": 0.025, "v3": 0.025}.items():
        d = _diffs(p[name])
        half = stats.t.ppf(1 - a / 2, 2) * d.std(ddof=1) / np.sqrt(3)
        row = table.loc[name]
        assert (row["diff_ci_lo_adj"], row["diff_ci_hi_adj"]) == pytest.approx(
            (d.mean() - half, d.mean() + half)
        )
        assert row["diff_ci_hi"] < 0  # the raw interval excludes 0 for all three
    excludes = (table["diff_ci_hi_adj"] < 0) | (table["diff_ci_lo_adj"] > 0)
    assert (
        list(excludes[list(p)])
        == list(table.loc[list(p), "diff_significant"])
        == [True, False, False]
    )
    assert np.isnan(table.loc["baseline", ["diff_ci_lo_adj", "diff_ci_hi_adj"]].astype(float)).all()
    assert t_interval(_diffs(0.04), 0.95)[1] < 0  # the gap the held level closes


def test_adjusted_interval_agrees_with_the_adjusted_p_on_random_studies():
    rng = np.random.default_rng(4)
    for _ in range(3):
        effects = rng.choice([0.0, -0.02, -0.05], 8)
        loss = (
            2.5 + rng.normal(0, 0.05, 3)[None, :] + effects[:, None] + rng.normal(0, 0.01, (8, 3))
        )
        rows = [
            run_row("baseline" if v == 0 else f"v{v}", s, {} if v == 0 else {"train.lr": v * 1e-4})
            | {"final_val_loss": float(loss[v, s])}
            for v in range(8)
            for s in range(3)
        ]
        table = seed_stats(fake_runs(rows)).query("metric == 'val_loss' and variant != 'baseline'")
        excludes = (table["diff_ci_hi_adj"] < 0) | (table["diff_ci_lo_adj"] > 0)
        assert (excludes == table["diff_significant"]).all()


def test_effects_are_adjusted_across_the_terms_of_each_grid():
    """Grid g: p = 0.01, 0.03, 0.04 -> Holm 0.03, 0.06, 0.06 (only the first significant);
    levels 0.05/3, 0.05/2, 0.05/2. Grid h's one term is its own family (p_adj = p)."""
    df, se = 10.0, 0.01
    p = {"A": 0.01, "B": 0.03, "A:B": 0.04, "C": 0.04}
    effect = {t: se * stats.t.isf(pv / 2, df) for t, pv in p.items()}  # the t-test's p is p
    table = pd.DataFrame(
        {
            "task": "x",
            "grid": ["g", "g", "g", "h", "h"],
            "term": [*p, "D"],
            "effect": [*effect.values(), 0.2],
            "se": [se] * 4 + [np.nan],
            "n_contrasts": [1, 1, 1, 3, 1],
            "p_value": [*p.values(), np.nan],
            "df": [df] * 4 + [0.0],
        }
    )
    out = adjust_across_terms(table).set_index("term")
    assert out["p_adj"].to_numpy() == pytest.approx([0.03, 0.06, 0.06, 0.04, np.nan], nan_ok=True)
    assert list(out["significant"]) == [True, False, False, True, False]
    for term, a, k in [("A", 0.05 / 3, 1), ("B", 0.025, 1), ("A:B", 0.025, 1), ("C", 0.05, 3)]:
        half = stats.t.ppf(1 - a / (2 * k), df) * se
        assert (out.loc[term, "ci_lo_adj"], out.loc[term, "ci_hi_adj"]) == pytest.approx(
            (effect[term] - half, effect[term] + half)
        )
    one = out.loc[["A", "B", "A:B"]]
    assert ((one["ci_lo_adj"] > 0) == one["significant"]).all()  # one contrast: they agree
    assert np.isnan(out.loc["D", ["ci_lo_adj", "ci_hi_adj"]].astype(float)).all()


def test_the_coverage_bench_runs_and_measures_these_intervals():
    spec = importlib.util.spec_from_file_location(
        "bench_coverage", ROOT / "bench" / "bench_coverage.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rng = np.random.default_rng(0)
    for draw, mean, bounds in bench.MODELS.values():  # it asserts the range itself
        r = bench.measure(draw, mean, bounds, 3, 400, rng)
        assert r["new"] >= r["old"] and 0 <= r["old_out"] <= 1
