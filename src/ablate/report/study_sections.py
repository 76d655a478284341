"""The report's views across a task's variants: length generalisation, which choices
matter, learning-rate sensitivity and scaling (each section a title's blocks)."""

from __future__ import annotations

from ablate.analysis.lr_sensitivity import MIN_LRS
from ablate.analysis.scaling import MIN_SIZES
from ablate.report.charts_effects import effects_chart, length_chart
from ablate.report.charts_study import lr_chart, scaling_chart
from ablate.report.ladder_section import ladder_blocks
from ablate.report.leaderboard import table_block
from ablate.report.page import note
from ablate.report.panels import PANELS_NOTE, Ctx


def length_section(c: Ctx) -> list[dict]:
    length = c.t["length"]
    if length.empty or length["multiple"].nunique() < 2:
        return [
            note(
                "No length-generalisation evaluations (evals beyond the training length) "
                "for this task.",
                "empty",
            )
        ]
    table = length.sort_values(["variant", "multiple"])
    return [
        c.page.chart(
            length_chart(length, c.panels, c.colour),
            f"{PANELS_NOTE} Bars: the interval of the seed mean.",
            f"{c.task}-length",
        ),
        table_block(table, LENGTH_COLUMNS, LENGTH_FORMATS),
    ]


LENGTH_COLUMNS = {
    "variant": "variant",
    "multiple": "evaluated length / training length",
    "seq_len": "evaluated sequence length",
    "loss_mean": "final val loss at that length, seed mean",
    "loss_ci_lo": "interval of the mean, low",
    "loss_ci_hi": "interval of the mean, high",
    "acc_mean": "final val token accuracy at that length, seed mean",
    "n": "seeds",
}
LENGTH_FORMATS = {"loss_mean": ".4f", "loss_ci_lo": ".4f", "loss_ci_hi": ".4f", "acc_mean": ".3f"}


def effects_section(c: Ctx) -> list[dict]:
    effects = c.t["effects"]
    if effects.empty:
        return [
            note(
                "No factorial grid in this task: for one-factor ablations the paired "
                "differences in the leaderboard are the effects.",
                "empty",
            )
        ]
    blocks = []
    for grid, g in effects.groupby("grid", sort=True):
        g = g.reindex(g["effect"].abs().sort_values(ascending=False).index)
        blocks.append(
            c.page.chart(
                effects_chart(g, grid),
                "Dots: effect; bars: interval adjusted across the grid's terms (Holm); "
                "dashed: zero.",
                f"{c.task}-effects-{grid}",
            )
        )
        blocks.append(table_block(g, EFFECT_COLUMNS, EFFECT_FORMATS))
    return blocks


EFFECT_COLUMNS = {
    "term": "factor (main effect) or factor:factor (two-way interaction)",
    "order": "1: main effect, 2: interaction",
    "effect": "effect on final val loss (nats), as Methods (effects) defines it",
    "ci_lo_adj": "interval, low (adjusted across the grid's terms, as p adjusted)",
    "ci_hi_adj": "interval, high (adjusted)",
    "p_value": "p-value of the term (F-test), unadjusted",
    "p_adj": "p-value adjusted across the grid's terms (Holm); below 0.05: significant",
}
EFFECT_FORMATS = {
    **{"effect": "+.4f", "ci_lo_adj": "+.4f", "ci_hi_adj": "+.4f"},
    **{"p_value": ".2g", "p_adj": ".2g"},
}


def lr_section(c: Ctx) -> list[dict]:
    summary, curves_ = c.t["lr_sensitivity"], c.t["lr_curves"]
    if summary.empty:
        tuned = "" if c.t.get("tuning", summary).empty else " (each tuned variant's: Tuning)"
        return [
            note(
                f"No learning-rate sweep in this task's comparison{tuned}: it needs at least "
                f"{MIN_LRS} variants whose specs differ only in train.lr.",
                "empty",
            )
        ]
    return [
        table_block(summary, LR_COLUMNS, LR_FORMATS),
        c.page.chart(
            lr_chart(curves_),
            "Each point: seed mean of the final val loss capped at l0.",
            f"{c.task}-lr",
        ),
    ]


LR_COLUMNS = {
    "family": "what the family holds fixed, against the baseline ('base': nothing)",
    "variants": "the variants of the sweep",
    "n_lr": "learning rates in the sweep",
    "best_lr": "lr with the lowest capped loss",
    "l0": "loss at initialisation (median initial_loss)",
    "l_star": "lowest capped loss over the sweep",
    "sensitivity": "mean over the lr grid of [min(loss, l0) - l*] (Wortsman et al. 2023)",
    "sensitivity_seed_std": "std of the sensitivity computed seed by seed",
    "n_diverged": "diverged runs in the sweep (counted as l0)",
}
LR_FORMATS = {k: ".4f" for k in ("l0", "l_star", "sensitivity", "sensitivity_seed_std")}
LR_FORMATS["best_lr"] = ".3g"


def scaling_section(c: Ctx) -> list[dict]:
    return family_blocks(c) + ladder_blocks(c)


def family_blocks(c: Ctx) -> list[dict]:
    points, fits = c.t["scaling_points"], c.t["scaling_fits"]
    if points.empty:
        ladders = c.t.get("scaling_variants")
        below = (
            "; the size ladders below are this study's measure of scaling"
            if ladders is not None and not ladders.empty
            else ""
        )
        return [
            note(
                "No scaling family among the compared variants: it needs variants that "
                f"differ in one size key spanning at least {MIN_SIZES} sizes{below}.",
                "empty",
            )
        ]
    blocks = [table_block(fits, FIT_COLUMNS, FIT_FORMATS, wrap=frozenset({"family", "reason"}))]
    flagged = fits[fits["bottleneck"] & (fits["x"] == "n_params_non_embedding")]
    for row in flagged.itertuples(index=False):
        noise = "beyond" if row.bottleneck_beyond_noise else "within"
        blocks.append(
            note(
                f"Scaling bottleneck in family {row.family} ({noise} seed noise): "
                f"{row.bottleneck_detail}"
            )
        )
    blocks.append(
        c.page.chart(
            scaling_chart(points, fits),
            "Log-log. Solid: the fitted law over the measured sizes; dashed: extrapolated to 10x "
            "the largest, only where the law is identifiable. The law and why: in the table.",
            f"{c.task}-scaling",
        )
    )
    return blocks


FIT_COLUMNS = {
    "family": "the one size key the family varies, and what it holds fixed",
    "x": "size measure the law is fitted over",
    "model": "saturating: E + A x^-alpha; power_law: A x^-alpha",
    "identified": "whether the law is identified by the data (else: no extrapolation)",
    "reason": "why this law was used",
    "n_sizes": "distinct sizes",
    "alpha": "fitted exponent",
    "alpha_ci_lo": "interval of alpha, low (see Methods: what it covers)",
    "alpha_ci_hi": "interval of alpha, high",
    "E": "fitted irreducible loss (0 for the pure power law)",
    "loss_at_10x": "predicted loss at 10x the largest size (blank: not identifiable)",
    "rmse_log": "RMS of log residuals",
    "bottleneck": "some larger model is not better than a smaller one",
}
FIT_FORMATS = {k: ".4f" for k in ("alpha", "alpha_ci_lo", "alpha_ci_hi", "E", "loss_at_10x")}
FIT_FORMATS["rmse_log"] = ".2e"
