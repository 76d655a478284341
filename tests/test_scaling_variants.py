"""Scaling behaviour per variant (analysis/scaling_variants.py) on hand-built ladders whose
slopes are known: loss = c * x^-alpha exactly, so least squares recovers alpha."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ablate.analysis.inference import paired_t
from ablate.analysis.scaling_variants import MIN_RUNGS, scaling_variants, slope

SIZES = [1e4, 2e4, 4e4, 8e4, 1.6e5]


def ladder(variant: str, alphas: dict[int, float], c: float = 10.0, status="ok") -> list[dict]:
    """One variant's ladder: per seed, loss = c * x^-alpha at every rung; flops = 6 N."""
    return [
        {"task": "t", "ladder": variant, "variant": f"{variant}@{n:g}", "seed": seed,
         "n_params_non_embedding": n, "flops": 6 * n * 1e6, "status": status,
         "final_val_loss": c * n ** -alpha}
        for seed, alpha in alphas.items()
        for n in SIZES
    ]  # fmt: skip


def test_slope_recovers_a_power_law_and_needs_three_rungs():
    x = np.array(SIZES)
    assert slope(x, 3.0 * x**-0.2) == pytest.approx(0.2)
    assert math.isnan(slope(x[: MIN_RUNGS - 1], x[: MIN_RUNGS - 1] ** -0.2))


def test_alpha_per_variant_with_intervals_and_the_paired_difference():
    base = {0: 0.10, 1: 0.12, 2: 0.11}
    rope = {0: 0.15, 1: 0.16, 2: 0.17}
    table = scaling_variants(pd.DataFrame(ladder("baseline", base) + ladder("pos=rope", rope)))
    assert set(table["x"]) == {"n_params_non_embedding", "flops"}
    row = table[(table["variant"] == "pos=rope") & (table["x"] == "n_params_non_embedding")].iloc[0]
    assert row["alpha"] == pytest.approx(0.16)
    assert row["alpha_ci_lo"] < 0.16 < row["alpha_ci_hi"]
    diffs = np.array([0.05, 0.04, 0.06])
    assert row["alpha_diff"] == pytest.approx(diffs.mean())
    assert row["alpha_diff_p"] == pytest.approx(paired_t(diffs)[0])
    # one comparison in the family: Holm leaves p alone, the interval is the plain 95 % one
    assert row["alpha_diff_p_adj"] == pytest.approx(row["alpha_diff_p"])
    assert row["alpha_diff_ci_lo"] > 0 and row["alpha_diff_significant"]
    assert row["n_sizes"] == 5 and row["n_seeds"] == 3 and row["reference"] == "baseline"
    assert row["loss_at_largest"] == pytest.approx(
        np.mean([10 * SIZES[-1] ** -a for a in rope.values()])
    )
    # flops = 6 N * const: the same slope against compute
    flops = table[(table["variant"] == "pos=rope") & (table["x"] == "flops")].iloc[0]
    assert flops["alpha"] == pytest.approx(0.16)
    ref = table[table["variant"] == "baseline"].iloc[0]
    assert math.isnan(ref["alpha_diff"]) and not ref["alpha_diff_significant"]


def test_holm_adjusts_across_the_variants_of_a_task():
    base = {0: 0.10, 1: 0.12, 2: 0.11}
    frames = ladder("baseline", base)
    frames += ladder("a", {0: 0.15, 1: 0.16, 2: 0.17})
    frames += ladder("b", {0: 0.10, 1: 0.13, 2: 0.10})  # about the baseline's
    table = scaling_variants(pd.DataFrame(frames))
    t = table[table["x"] == "n_params_non_embedding"].set_index("variant")
    p = t.loc[["a", "b"], "alpha_diff_p"].to_numpy()
    order = np.argsort(p)
    expected = np.maximum.accumulate(np.minimum(1, (2 - np.arange(2)) * p[order]))
    assert t.loc[["a", "b"], "alpha_diff_p_adj"].to_numpy()[order] == pytest.approx(expected)


def test_a_seed_without_enough_finished_rungs_is_left_out():
    rows = ladder("baseline", {0: 0.1, 1: 0.1}) + ladder("x", {0: 0.2, 1: 0.2})
    for r in rows:  # seed 1 of x diverged at three rungs: two left, too few for a slope
        if r["ladder"] == "x" and r["seed"] == 1 and r["n_params_non_embedding"] < 8e4:
            r["status"], r["final_val_loss"] = "diverged", float("nan")
    table = scaling_variants(pd.DataFrame(rows))
    row = table[(table["variant"] == "x") & (table["x"] == "flops")].iloc[0]
    assert row["n_seeds"] == 1 and row["alpha"] == pytest.approx(0.2)
    assert math.isnan(row["alpha_ci_lo"])  # one seed: no interval


LADDER_STUDY = {
    "study": "l",
    "seeds": [0, 1],
    "base": {
        "model": {"d_model": 16, "n_layer": 1, "n_head": 2, "context": 32},
        "train": {"steps": 20, "batch_size": 8, "warmup_steps": 2},
        "data": {"task": "induction", "seq_len": 16, "vocab": 16},
    },
    "ablations": {"model.n_head": [1], "model.norm": ["rmsnorm"]},
    "scaling": {"model.d_model": [8, 16, 24, 32], "variants": ["baseline", "n_head=*"]},
}


def test_a_ladder_trains_each_listed_variant_at_every_other_rung():
    import copy

    from ablate.study.expand import expand_study

    runs = expand_study(copy.deepcopy(LADDER_STUDY))
    rungs = [r for r in runs if r.rung]
    # 2 variants x 3 rungs besides their own d_model=16 x 2 seeds
    assert len(rungs) == 2 * 3 * 2
    assert {r.variant for r in rungs} == {
        f"{v}@d_model={d}" for v in ("baseline", "n_head=1") for d in (8, 24, 32)
    }
    assert all(r.spec.model.d_model == int(r.variant.rsplit("=", 1)[1]) for r in rungs)
    assert {r.spec.model.n_head for r in rungs if r.ladder == "n_head=1"} == {1}
    own = [r for r in runs if r.ladder and not r.rung]  # the variants' own runs are rungs too
    assert {(r.variant, r.spec.model.d_model) for r in own} == {("baseline", 16), ("n_head=1", 16)}
    assert all(not r.ladder for r in runs if r.variant == "norm=rmsnorm")


@pytest.mark.parametrize(
    "scaling, needle",
    [
        ({"model.d_model": [8, 15, 16]}, "variant 'baseline' at scaling rung model.d_model=15: "
         "model.d_model=15 is not divisible by model.n_head=2"),
        ({"model.d_model": [8, 16]}, "scaling.model.d_model=[8, 16]: a ladder needs at least 3"),
        ({"train.lr": [1e-3, 2e-3, 3e-3]}, "scaling.train.lr: unknown key"),
        ({"model.d_model": [8, 16, 24], "variants": ["nope"]}, "scaling.variants: 'nope' matches"),
        ({"model.d_model": [8, 16, 24], "model.n_layer": [1, 2]}, "zipped keys need equally many"),
        ({"model.n_head": [1, 2, 4], "variants": ["n_head=1"]}, "'n_head=1' sets model.n_head"),
    ],
)  # fmt: skip
def test_a_bad_ladder_is_refused_with_the_key_or_rung_named(scaling, needle):
    import copy

    from ablate.study.expand import ConfigError, expand_study

    config = copy.deepcopy(LADDER_STUDY) | {"scaling": scaling}
    with pytest.raises(ConfigError) as error:
        expand_study(config)
    assert needle in str(error.value)


TUNE = {"train.lr": [1e-3, 1e-2], "seeds": [100], "variants": ["baseline"]}


def _tuned_ladder(**scaling):
    import copy

    config = copy.deepcopy(LADDER_STUDY) | {"tune": dict(TUNE)}
    config["scaling"] = {"model.d_model": [8, 16, 24], "variants": ["baseline"]} | scaling
    return config


def test_in_a_tuned_study_each_rung_is_tuned_on_its_own():
    from ablate.spec.stages import COMPARE
    from ablate.spec.stages import TUNE as TUNE_STAGE
    from ablate.study.expand import expand_study

    config = _tuned_ladder()
    before = expand_study(config)
    tune = [r for r in before if r.stage == TUNE_STAGE]
    # baseline and its two other rungs, each at both lrs on the one tuning seed
    assert {(r.variant, r.spec.train.lr) for r in tune} == {
        (v, lr) for v in ("baseline", "baseline@d_model=8", "baseline@d_model=24")
        for lr in (1e-3, 1e-2)
    }  # fmt: skip
    assert all(r.rung == ("@" in r.variant) and r.ladder == ("baseline" if r.rung else "")
               for r in tune)  # fmt: skip
    assert not [r for r in before if r.stage == COMPARE and r.ladder]  # nothing chosen yet
    choice = {
        ("induction", "baseline"): {"train.lr": 1e-2},
        ("induction", "baseline@d_model=8"): {"train.lr": 1e-3},
        ("induction", "baseline@d_model=24"): {"train.lr": 1e-2},
    }
    after = expand_study(config, choice=choice)
    rungs = [r for r in after if r.stage == COMPARE and r.rung]
    assert {(r.variant, r.spec.model.d_model, r.spec.train.lr, r.seed) for r in rungs} == {
        (f"baseline@d_model={d}", d, lr, s) for d, lr in ((8, 1e-3), (24, 1e-2)) for s in (0, 1)
    }
    assert all(r.tuned == {"train.lr": r.spec.train.lr} for r in rungs)


def test_with_transfer_the_rungs_take_their_variants_tuned_value():
    from ablate.spec.stages import COMPARE
    from ablate.spec.stages import TUNE as TUNE_STAGE
    from ablate.study.comparison import comparison_candidates
    from ablate.study.expand import expand_study

    config = _tuned_ladder(transfer=True)
    before = expand_study(config)
    assert {r.variant for r in before if r.stage == TUNE_STAGE} == {"baseline"}
    after = expand_study(config, choice={("induction", "baseline"): {"train.lr": 1e-2}})
    rungs = [r for r in after if r.stage == COMPARE and r.rung]
    assert len(rungs) == 2 * 2 and {r.spec.train.lr for r in rungs} == {1e-2}
    # the estimate's candidates: baseline's and its rungs' comparison runs, 2 lrs each
    candidates = comparison_candidates(config)
    assert len(candidates) == 3 * 2
    assert all({r.spec.train.lr for r in c} == {1e-3, 1e-2} for c in candidates)


@pytest.mark.parametrize(
    "change, needle",
    [
        (lambda c: c.pop("tune"), "scaling.transfer=True: only read in a tuned study"),
        (lambda c: c["tune"].update({"model.d_model": [8, 16]}),
         "scaling.model.d_model: also tuned"),
    ],
)  # fmt: skip
def test_a_tuned_ladder_refuses_what_it_cannot_mean(change, needle):
    from ablate.study.expand import ConfigError, expand_study

    config = _tuned_ladder(transfer=True)
    change(config)
    with pytest.raises(ConfigError) as error:
        expand_study(config)
    assert needle in str(error.value)


def test_the_saturating_law_is_reported_only_where_identified():
    """E + A N^-alpha with E = 1.5 at five rungs (every seed the same curve) is identified
    and recovered; at three rungs only the local slope is given (no law parameters)."""
    rows = []
    for seed in (0, 1):
        for n in SIZES:
            rows.append({"task": "t", "ladder": "baseline", "variant": f"b@{n:g}", "seed": seed,
                         "n_params_non_embedding": n, "flops": 6 * n, "status": "ok",
                         "final_val_loss": 1.5 + 40.0 * n ** -0.35})  # fmt: skip
    five = scaling_variants(pd.DataFrame(rows))
    row = five[five["x"] == "n_params_non_embedding"].iloc[0]
    assert row["law"] == "saturating" and row["law_identified"]
    assert row["law_E"] == pytest.approx(1.5, rel=0.02)
    assert row["law_alpha"] == pytest.approx(0.35, rel=0.05)
    three = pd.DataFrame([r for r in rows if r["n_params_non_embedding"] <= SIZES[2]])
    row = scaling_variants(three).iloc[0]
    assert not row["law_identified"] and math.isnan(row["law_E"]) and math.isnan(row["law_alpha"])
    assert "not identifiable" in row["law_reason"]
