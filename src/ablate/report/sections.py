"""One task's part of the report: findings first, then one section per view of the data;
here the views of training (curves, gradients, attention; dynamics_section.py the
instruments), in study_sections.py the views
across variants (length, effects, learning rate, scaling).

Each section is a title and a list of blocks (note, figure, table, leaderboard) that the
templates draw; a section with nothing to show says so in words.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ablate.analysis.ranking import MARK
from ablate.report import chart_data
from ablate.report.charts_curves import curve_chart
from ablate.report.charts_heat import attention_map_chart, entropy_heatmap, grad_heatmap
from ablate.report.dynamics_section import dynamics_section
from ablate.report.findings import task_findings
from ablate.report.leaderboard import HEADERS, leaderboard_rows
from ablate.report.page import Page, note
from ablate.report.panels import PANELS_NOTE, Ctx, colours, panels
from ablate.report.reference_findings import variant_references
from ablate.report.samples_section import samples_section
from ablate.report.study_sections import (
    effects_section,
    length_section,
    lr_section,
    scaling_section,
)
from ablate.report.tuning_section import tuning_section


def task_view(page: Page, task: str, t: dict[str, pd.DataFrame], reference: str) -> dict:
    """t: every study and analysis table, already filtered to this task."""
    task_panels = panels(t["runs"], reference)
    colour = colours(task_panels)
    ctx = Ctx(page, task, t, reference, task_panels, colour)
    board = [
        note(
            "Rows in the task's order: failure rate, then mean val loss (see Methods, "
            f"ranking); '{MARK}' after a position: cannot be ruled out as the best "
            "(superscript 'spread': only because its seeds disagree). Δ vs baseline pairs "
            f"runs by seed against '{reference}', with the interval adjusted like p. Click a "
            "header to sort, hover it for its definition, open 'more' for the rest."
        ),
        {"kind": "leaderboard", "headers": HEADERS, "rows": leaderboard_rows(t["leaderboard"])},
    ]
    return {
        "name": task,
        "anchor": f"task-{task}",
        "findings": task_findings(t, reference),
        "sections": [
            {"title": "Leaderboard", "blocks": board},
            {"title": "Loss curves", "blocks": curves(ctx)},
            {"title": "Gradient norms", "blocks": gradients(ctx)},
            {"title": "Attention", "blocks": attention(ctx)},
            {"title": "Training dynamics", "blocks": dynamics_section(ctx)},
            {"title": "Length generalisation", "blocks": length_section(ctx)},
            {"title": "Which choices matter", "blocks": effects_section(ctx)},
            {"title": "Tuning", "blocks": tuning_section(ctx)},
            {"title": "Learning-rate sensitivity", "blocks": lr_section(ctx)},
            {"title": "Scaling", "blocks": scaling_section(ctx)},
            {"title": "Samples", "blocks": samples_section(ctx)},
        ],
    }


def curves(c: Ctx) -> list[dict]:
    initial = pd.to_numeric(c.t["runs"]["initial_loss"], errors="coerce")
    y_max = float(1.1 * initial.max()) if np.isfinite(initial.max()) else None
    thinned = (
        f"Long runs are thinned to {chart_data.MAX_POINTS} points per line (band keeps extremes)."
    )
    refs = variant_references(c.t.get("references", pd.DataFrame()), c.reference)
    zoom = (
        " Dashed rules: the task's references (see Methods, reference_losses), measured on the "
        "validation set. The charts open zoomed on where the runs end; tick 'full range' under "
        "a chart for all of it."
    )
    return [
        c.chart_or_note(
            chart_data.seed_band(c.t["steps"], "loss"),
            lambda band: curve_chart(
                band,
                c.panels,
                c.colour,
                "Training loss (seed mean, band: seed min..max)",
                "train loss",
                y_max=y_max,
                references=refs,
            ),
            f"{PANELS_NOTE} The y axis stops at 1.1x the initial loss so a diverging seed does "
            f"not hide the others. {thinned}{zoom}",
            "No training steps recorded for this task.",
            "train-loss",
        ),
        c.chart_or_note(
            chart_data.seed_band(chart_data.val_evals(c.t["evals"]), "loss"),
            lambda val: curve_chart(
                val,
                c.panels,
                c.colour,
                "Validation loss at the training length",
                "val loss",
                y_max=y_max,
                references=refs,
            ),
            f"Evaluated every train.eval_every steps on the fixed validation set.{zoom}",
            "No validation evaluations recorded for this task.",
            "val-loss",
        ),
    ]


def gradients(c: Ctx) -> list[dict]:
    return [
        c.chart_or_note(
            chart_data.seed_band(c.t["steps"], "grad_norm"),
            lambda band: curve_chart(
                band,
                c.panels,
                c.colour,
                "Global gradient norm before clipping",
                "grad norm",
                log_y=True,
            ),
            "Log scale. Spikes in the band that the mean line does not show come from one seed.",
            "No gradient norms recorded for this task.",
            "grad-norm",
        ),
        c.chart_or_note(
            chart_data.layer_grad_heat(c.t["grads"]),
            lambda heat: grad_heatmap(heat, sorted(heat["variant"].unique())),
            "Per layer: the L2 norm of all its modules' gradients, averaged over seeds and over "
            f"steps in up to {chart_data.MAX_HEAT_STEPS} bins. Pick the variant in the drop-down.",
            "No per-layer gradient norms (grads table) for this task.",
            "grad-layers",
        ),
    ]


def attention(c: Ctx) -> list[dict]:
    blocks = [
        c.chart_or_note(
            chart_data.entropy_heat(c.t["probes"]),
            lambda heat: entropy_heatmap(heat, sorted(heat["variant"].unique())),
            "Normalised entropy of each head's attention on the probe batch: 1 = uniform over "
            "the visible keys, 0 = one-hot. A row going dark is a head collapsing. Pick the "
            "variant in the drop-down.",
            "No attention probes (attn_entropy) for this task.",
            "attn-entropy",
        )
    ]
    chosen = chart_data.map_variants(c.t["leaderboard"], c.reference)
    maps = chart_data.attention_maps(c.t["attn_maps"], chosen)
    shown = [v for v in chosen if v in set(maps["variant"])]
    blocks.append(
        c.chart_or_note(
            maps,
            lambda m: attention_map_chart(m, shown),
            f"Shown for {', '.join(shown)} (the baseline and the best-ranked variants; the "
            f"drop-down picks one), lowest seed, first {chart_data.MAP_POSITIONS} positions.",
            "No final attention maps (attn_maps table) for this task.",
            "attn-maps",
        )
    )
    return blocks
