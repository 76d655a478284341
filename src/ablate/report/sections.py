"""The report's sections for one task, each saying so in words when it has nothing to show."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ablate.analysis.lr_sensitivity import MIN_LRS
from ablate.analysis.scaling import MIN_SIZES
from ablate.report import data
from ablate.report.charts_curves import curve_chart
from ablate.report.charts_heat import attention_map_chart, entropy_heatmap, grad_heatmap
from ablate.report.charts_study import lr_chart, scaling_chart
from ablate.report.html import frame_html, leaderboard_html
from ablate.report.page import Page


def task_sections(page: Page, task: str, t: dict[str, pd.DataFrame], reference: str) -> None:
    """t: every study and analysis table, already filtered to this task."""
    page.heading(f"Task: {task}", 2, anchor=f"task-{task}")
    page.heading("Leaderboard", 3)
    page.note(
        "Ranked by failure rate (runs not ok), then mean final val loss (see Methods); the "
        "tier and score are warnings beside the rank. Δ vs baseline pairs "
        f"runs by seed against '{reference}'. Hover a column header for its definition."
    )
    page.add(f'<div class="scroll">{leaderboard_html(t["leaderboard"])}</div>')
    curves(page, t)
    gradients(page, t)
    attention(page, t, reference)
    lr_section(page, t)
    scaling_section(page, t)


def curves(page: Page, t: dict[str, pd.DataFrame]) -> None:
    page.heading("Loss curves", 3)
    runs = t["runs"]
    initial = pd.to_numeric(runs["initial_loss"], errors="coerce")
    y_max = float(1.1 * initial.max()) if np.isfinite(initial.max()) else None
    page.chart_or_note(
        data.seed_band(t["steps"], "loss"),
        lambda band: curve_chart(
            band, "Training loss (seed mean, band: seed min..max)", "train loss", y_max=y_max
        ),
        "Click a legend entry to highlight a variant (shift-click for several). The y axis "
        "stops at 1.1x the initial loss so a diverging seed does not hide the others. "
        f"Long runs are thinned to {data.MAX_POINTS} points per line (band keeps extremes).",
        "No training steps recorded for this task.",
    )
    page.chart_or_note(
        data.seed_band(data.val_evals(t["evals"]), "loss"),
        lambda val: curve_chart(
            val, "Validation loss at the training length", "val loss", y_max=y_max
        ),
        "Evaluated every train.eval_every steps on the fixed validation set.",
        "No validation evaluations recorded for this task.",
    )


def gradients(page: Page, t: dict[str, pd.DataFrame]) -> None:
    page.heading("Gradient norms", 3)
    page.chart_or_note(
        data.seed_band(t["steps"], "grad_norm"),
        lambda band: curve_chart(
            band, "Global gradient norm before clipping", "grad norm", log_y=True
        ),
        "Log scale. Spikes in the band that the mean line does not show come from one seed.",
        "No gradient norms recorded for this task.",
    )
    page.chart_or_note(
        data.layer_grad_heat(t["grads"]),
        lambda heat: grad_heatmap(heat, sorted(heat["variant"].unique())),
        "Per layer: the L2 norm of all its modules' gradients, averaged over seeds and over "
        f"steps in up to {data.MAX_HEAT_STEPS} bins. Pick the variant in the drop-down.",
        "No per-layer gradient norms (grads table) for this task.",
    )


def attention(page: Page, t: dict[str, pd.DataFrame], reference: str) -> None:
    page.heading("Attention", 3)
    page.chart_or_note(
        data.entropy_heat(t["probes"]),
        lambda heat: entropy_heatmap(heat, sorted(heat["variant"].unique())),
        "Normalised entropy of each head's attention on the probe batch: 1 = uniform over "
        "the visible keys, 0 = one-hot. A row going dark is a head collapsing.",
        "No attention probes (attn_entropy) for this task.",
    )
    chosen = data.map_variants(t["leaderboard"], reference)
    maps = data.attention_maps(t["attn_maps"], chosen)
    if maps.empty:
        page.note("No final attention maps (attn_maps table) for this task.", "empty")
    else:
        shown = [v for v in chosen if v in set(maps["variant"])]
        page.chart(
            attention_map_chart(maps, shown),
            f"Shown for {', '.join(shown)} (the baseline and the best-ranked variants), lowest "
            f"seed, first {data.MAP_POSITIONS} positions.",
        )


def lr_section(page: Page, t: dict[str, pd.DataFrame]) -> None:
    page.heading("Learning-rate sensitivity", 3)
    summary, curves_ = t["lr_sensitivity"], t["lr_curves"]
    if summary.empty:
        page.note(
            f"No learning-rate sweep in this task: it needs at least {MIN_LRS} variants whose "
            "specs differ only in train.lr.",
            "empty",
        )
        return
    page.add(frame_html(summary, LR_COLUMNS, LR_FORMATS))
    page.chart(lr_chart(curves_), "Each point: seed mean of the final val loss capped at l0.")


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
LR_FORMATS = {
    "best_lr": ".3g",
    "l0": ".4f",
    "l_star": ".4f",
    "sensitivity": ".4f",
    "sensitivity_seed_std": ".4f",
}


def scaling_section(page: Page, t: dict[str, pd.DataFrame]) -> None:
    page.heading("Scaling", 3)
    points, fits = t["scaling_points"], t["scaling_fits"]
    if points.empty:
        page.note(
            f"No scaling family in this task: it needs variants that differ only in size keys "
            f"(d_model, n_layer, n_head, d_ff, ffn_ratio) spanning at least {MIN_SIZES} sizes.",
            "empty",
        )
        return
    page.add(frame_html(fits, FIT_COLUMNS, FIT_FORMATS))
    flagged = fits[fits["bottleneck"] & (fits["x"] == "n_params_non_embedding")]
    for row in flagged.itertuples(index=False):
        noise = "beyond" if row.bottleneck_beyond_noise else "within"
        page.note(
            f"Scaling bottleneck in family {row.family} ({noise} seed noise): "
            f"{row.bottleneck_detail}"
        )
    page.chart(
        scaling_chart(points, fits),
        "Log-log. Solid: the fitted law over the measured sizes; dashed: extrapolated to 10x the "
        "largest. The law used (saturating or pure power law) and why is in the table.",
    )


FIT_COLUMNS = {
    "family": "what the family holds fixed, against the baseline",
    "x": "size measure the law is fitted over",
    "model": "saturating: E + A x^-alpha; power_law: A x^-alpha (E not identifiable)",
    "reason": "why this law was used",
    "n_sizes": "distinct sizes",
    "alpha": "fitted exponent",
    "alpha_ci_lo": "bootstrap over seeds, 2.5%",
    "alpha_ci_hi": "bootstrap over seeds, 97.5%",
    "E": "fitted irreducible loss (0 for the pure power law)",
    "loss_at_4x": "predicted loss at 4x the largest size",
    "loss_at_10x": "predicted loss at 10x the largest size",
    "rmse_log": "RMS of log residuals",
    "bottleneck": "some larger model is not better than a smaller one",
}
FIT_FORMATS = {
    "alpha": ".4f",
    "alpha_ci_lo": ".4f",
    "alpha_ci_hi": ".4f",
    "E": ".4f",
    "loss_at_4x": ".4f",
    "loss_at_10x": ".4f",
    "rmse_log": ".2e",
}
