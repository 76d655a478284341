"""Scaling fits on data drawn from known laws; families; bottleneck flags."""

from __future__ import annotations

import numpy as np
import pytest
from fake_study import fake_runs, run_row

from ablate.analysis.families import find_families
from ablate.analysis.scaling import scaling_fits, scaling_points
from ablate.analysis.scaling_fit import fit_scaling

E_TRUE, A_TRUE, ALPHA_TRUE = 1.2, 30.0, 0.35


def law(n):
    return E_TRUE + A_TRUE * np.asarray(n, dtype=float) ** -ALPHA_TRUE


def test_saturating_fit_recovers_known_law_from_noisy_points():
    rng = np.random.default_rng(1)
    x = np.geomspace(1e3, 1e6, 8)
    y = law(x) * np.exp(rng.normal(0, 0.003, x.size))  # 0.3% noise
    fit = fit_scaling(x, y)
    assert fit.model == "saturating"
    assert fit.alpha == pytest.approx(ALPHA_TRUE, abs=0.02)
    assert abs(fit.E - E_TRUE) < 0.03
    assert fit.predict(1e7) == pytest.approx(law(1e7), rel=0.01)


def test_huber_fit_ignores_one_outlier():
    x = np.geomspace(1e3, 1e6, 8)
    y = law(x)
    y[3] *= 1.3  # one broken point: least squares would bend towards it
    fit = fit_scaling(x, y)
    assert fit.alpha == pytest.approx(ALPHA_TRUE, abs=0.01)
    assert abs(fit.E - E_TRUE) < 0.01


def test_four_sizes_fall_back_to_pure_power_law():
    x = np.geomspace(1e3, 1e6, 4)
    fit = fit_scaling(x, 5.0 * x**-0.076)  # Kaplan-like exponent
    assert fit.model == "power_law" and fit.E == 0.0
    assert "4 sizes" in fit.reason
    assert fit.alpha == pytest.approx(0.076, abs=1e-6)
    assert abs(fit.A / 5.0 - 1) < 1e-5


def test_asymptote_at_zero_is_reported_as_power_law():
    x = np.geomspace(1e3, 1e6, 8)
    fit = fit_scaling(x, 5.0 * x**-0.2)
    assert fit.model == "power_law" and "~ 0" in fit.reason
    assert fit.alpha == pytest.approx(0.2, abs=1e-6)


def test_fit_rejects_nonpositive_values():
    with pytest.raises(ValueError, match="positive"):
        fit_scaling([1e3, 1e4, 1e5], [2.0, 0.0, 1.0])


def _size_study(widths, loss_of, seeds=(0, 1, 2), noise=0.002):
    rng = np.random.default_rng(0)
    rows = []
    for d in widths:
        for layers in (1, 2):
            name = f"size/d_model={d},n_layer={layers}"
            over = {"model.d_model": d, "model.n_layer": layers, "model.n_head": 4}
            n = run_row(name, 0, over, group="size")["n_params_non_embedding"]
            rows += [
                run_row(
                    name,
                    s,
                    over,
                    group="size",
                    final_val_loss=float(loss_of(n) + rng.normal(0, noise)),
                )
                for s in seeds
            ]
    # the baseline runs the same spec as size/d_model=64,n_layer=2: one point, named baseline
    n = run_row("baseline", 0)["n_params_non_embedding"]
    rows += [run_row("baseline", s, final_val_loss=float(loss_of(n))) for s in seeds]
    # not a size variant: a different family (qk_norm fixed), too few sizes to be fitted
    rows += [run_row("qk_norm=True", s, {"model.qk_norm": True}) for s in seeds]
    return fake_runs(rows)


def test_scaling_family_fit_with_bootstrap_ci_and_extrapolation():
    runs = _size_study([16, 24, 32, 64, 128], law)
    points = scaling_points(runs)
    # a 2-D size grid: one width family per depth, never width and depth in one curve
    # (depth has only 2 values per width here: too few sizes for a family)
    assert set(points["family"]) == {"d_model @ base", "d_model @ n_layer=1"}
    assert set(points["size_key"]) == {"model.d_model"} and len(points) == 10
    for _, family in points.groupby("family"):
        assert family["variant"].map(lambda v: "n_layer=1" in v).nunique() == 1
    assert "baseline" in set(points["variant"])
    assert "size/d_model=64,n_layer=2" not in set(points["variant"])
    fits = scaling_fits(runs, points)
    fits = fits[fits["family"] == "d_model @ base"].set_index("x")
    n = fits.loc["n_params_non_embedding"]
    assert n["model"] == "saturating" and n["n_sizes"] == 5 and n["identified"]
    assert n["alpha"] == pytest.approx(ALPHA_TRUE, abs=0.05)
    assert n["alpha_ci_lo"] <= n["alpha"] <= n["alpha_ci_hi"]
    assert n["alpha_ci_hi"] - n["alpha_ci_lo"] < 0.15
    assert n["loss_at_10x"] == pytest.approx(law(10 * n["x_max"]), abs=0.02)
    assert n["loss_at_4x"] > n["loss_at_10x"]
    assert not n["bottleneck"] and n["ci_covers"].startswith("seed noise")
    # flops per token = 6 N + 6 n_layer n_ctx d (collect): the attention share falls with
    # size, so FLOPs grow slower than N and the loss falls faster per FLOP than per parameter
    assert fits.loc["flops", "alpha"] > n["alpha"] + 0.01


def test_four_sizes_are_fitted_but_not_extrapolated():
    """A saturating truth seen at 4 sizes: the power law's slope is far from the true alpha
    (the issue's 0.115 for 0.35), so no extrapolated number is given."""
    runs = _size_study([16, 32, 64, 128], law)
    fits = scaling_fits(runs, scaling_points(runs), n_boot=10)
    row = fits[(fits["family"] == "d_model @ base") & (fits["x"] == "flops")].iloc[0]
    assert row["n_sizes"] == 4 and not row["identified"]
    assert row["extrapolation"].startswith("not identifiable: 4 sizes < 5")
    assert np.isnan(row["loss_at_10x"]) and np.isnan(row["loss_at_4x_ci_hi"])
    assert row["alpha"] < ALPHA_TRUE - 0.1  # the local slope, biased: why it is not used


def test_larger_model_that_is_worse_is_flagged_as_bottleneck():
    def broken(n):  # gets better with size, then the largest models get worse
        return law(n) + (0.5 if n > 2e5 else 0.0)

    runs = _size_study([16, 32, 64, 128], broken)
    fits = scaling_fits(runs, scaling_points(runs), n_boot=10)
    row = fits[fits["x"] == "n_params_non_embedding"].iloc[0]
    assert row["bottleneck"] and row["bottleneck_beyond_noise"]
    assert "d_model=128" in row["bottleneck_detail"]


def test_families_group_by_spec_not_by_name():
    rows = [run_row("baseline", 0)]
    rows += [run_row(f"lr={lr}", 0, {"train.lr": lr}) for lr in (3e-4, 3e-3)]
    rows += [
        run_row(f"g/lr={lr},qk=1", 0, {"train.lr": lr, "model.qk_norm": True}, group="g")
        for lr in (1e-3, 3e-3)
    ]
    rows += [run_row("same", 0, {"train.lr": 3e-3})]  # same spec as lr=0.003: counted once
    families = {f.name: f for f in find_families(fake_runs(rows), {"train.lr"})}
    assert set(families) == {"base", "qk_norm=True"}
    assert families["base"].variants == ("baseline", "lr=0.0003", "lr=0.003")
    assert [v["train.lr"] for v in families["qk_norm=True"].values] == [1e-3, 3e-3]
