"""The Training dynamics section: the study's instruments (``probes:``) over training, as
small multiples per ablation group, and a table of where each variant ends.

    sharpness / (2/η)               1 = gradient descent's edge of stability
    precond. sharpness / Adam's     1 = (2 + 2β₁)/((1 − β₁)η), Adam's edge
    noise scale B_simple            beside the run's batch size (the critical batch size)
    sink mass                       the strongest head's mass on the first position,
                                    beside what uniform attention would give
    massive activations             the largest layer's max |h| / median |h|

Each chart is the seed mean with its min..max band, as the other curves; a chart whose
instrument was off for the study says so in words.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from ablate.report import chart_data
from ablate.report.charts_curves import seed_tooltip
from ablate.report.leaderboard import table_block
from ablate.report.panels import HEIGHT, WIDTH, Ctx, small_multiples

RULE_COLOUR = "#6e7781"
EMPTY = "The study did not record {what} (its probes: section turns it on; see docs)."


def dynamics_section(c: Ctx) -> list[dict]:
    curv = c.t.get("curvature", pd.DataFrame())
    curv = curv.copy() if len(curv) else pd.DataFrame(columns=["variant", "step"])
    probes = c.t["probes"]
    if len(curv):
        curv["eos_ratio"] = curv["sharpness"] * curv["lr"] / 2
        curv["adam_ratio"] = curv["sharpness_precond"] / curv["eos_adam"]
    sinks = _per_run_max(probes, "sink_mass")
    massive = _per_run_max(probes, "massive_ratio")
    batch = _one(curv, "batch_size")
    uniform = _one(probes[probes["metric"] == "sink_uniform"], "value")
    charts = [
        (
            curv,
            "eos_ratio",
            "Sharpness relative to gradient descent's edge of stability",
            "λ_max · η / 2",
            (1.0, "2/η"),
            "λ_max of the loss Hessian (power iteration on Hessian-vector products, on the "
            "next training batch's first probes.sharpness_batch sequences) times η/2: at 1 "
            "the sharpness is 2/η, where gradient descent at this lr stops being stable "
            "(Cohen et al. 2021). Adam is not gradient descent: its threshold is the next chart.",
            "sharpness",
        ),
        (
            curv,
            "adam_ratio",
            "Adam-preconditioned sharpness relative to Adam's edge of stability",
            "λ_max(P⁻¹H) / threshold",
            (1.0, "(2+2β₁)/((1−β₁)η)"),
            "λ_max of P⁻¹H with P = √v̂ + ε from Adam's state, over Adam's threshold "
            "(2 + 2β₁)/((1 − β₁)η) (Cohen et al. 2022): at 1 the run trains at Adam's edge "
            "of stability. None at step 0 (Adam has no moments yet).",
            "sharpness_precond",
        ),
        (
            curv,
            "noise_scale",
            "Gradient noise scale B_simple",
            "B_simple (sequences)",
            None if batch is None else (batch, f"batch {batch:g}"),
            "tr(Σ)/|G|² from the gradients of the next training batch and of its "
            "probes.noise_micro_batches micro-batches (McCandlish et al. 2018), each estimate "
            "smoothed across probes. It estimates the critical batch size: a batch well below "
            "it (the dashed rule) could grow with little loss of per-example efficiency. "
            "Missing points: |G|² was not yet resolved above its noise.",
            "noise",
        ),
        (
            sinks,
            "value",
            "Attention sinks: the strongest head's mass on the first position",
            "sink mass",
            None if uniform is None else (uniform, "uniform attention"),
            "Per run, the largest over layers and heads of a head's mean attention on key 0 "
            "(queries after it, probe batch; Xiao et al. 2023). The dashed rule is what "
            "attention spread evenly over the visible keys would put there: a head far above "
            "it is a sink.",
            "sinks",
        ),
        (
            massive,
            "value",
            "Massive activations: the largest layer's max |h| / median |h|",
            "max |h| / median |h|",
            None,
            "Per run, the largest over layers of the residual stream's max |entry| over its "
            "median |entry| on the probe batch (Sun et al. 2024 find ratios in the thousands "
            "in large models; tens here mean a few outlier features).",
            "massive",
        ),
    ]
    blocks = [_summary(c, curv, sinks, massive)]
    for frame, column, title, y_title, rule, caption, what in charts:
        band = chart_data.seed_band(frame, column) if column in frame else pd.DataFrame()
        blocks.append(
            c.chart_or_note(
                band,
                lambda b, t=title, y=y_title, r=rule: dynamics_chart(b, c, t, y, r),
                caption,
                EMPTY.format(what=what.replace("_", " ")),
                f"dynamics-{what}",
            )
        )
    return blocks


def dynamics_chart(band: pd.DataFrame, c: Ctx, title: str, y_title: str, rule) -> alt.Chart:
    """Small multiples on a log y axis, with an optional labelled dashed rule (value, text)."""
    values = band[["lo", "hi"]].to_numpy(dtype=float).ravel()
    values = values[np.isfinite(values) & (values > 0)]
    if rule is not None:
        values = np.append(values, rule[0])
    domain = [float(values.min()) / 1.2, float(values.max()) * 1.2]
    scale = alt.Scale(type="log", domain=domain, clamp=True)
    x = alt.X("step:Q", title="step", scale=alt.Scale(domain=[0, int(band["step"].max())]))

    def draw(rows, color, panel_title):
        base = alt.Chart(rows).encode(x=x, color=color)
        layers = [
            base.mark_area(opacity=0.15).encode(
                y=alt.Y("lo:Q", scale=scale, title=y_title), y2="hi:Q"
            ),
            base.mark_line(strokeWidth=1.5).encode(y=alt.Y("mean:Q", scale=scale)),
            base.mark_circle(size=10, opacity=0.7).encode(
                y=alt.Y("mean:Q", scale=scale), tooltip=seed_tooltip()
            ),
        ]
        if rule is not None:
            r = alt.Chart(pd.DataFrame({"y": [rule[0]], "label": [rule[1]]}))
            layers += [
                r.mark_rule(color=RULE_COLOUR, strokeDash=[4, 3]).encode(
                    y=alt.Y("y:Q", scale=scale)
                ),
                r.mark_text(align="right", baseline="bottom", dy=-1, fontSize=9).encode(
                    x=alt.value(WIDTH), y=alt.Y("y:Q", scale=scale), text="label:N"
                ),
            ]
        return alt.layer(*layers).properties(title=panel_title, width=WIDTH, height=HEIGHT)

    return small_multiples(band, c.panels, c.colour, draw).properties(title=title)


def _summary(c: Ctx, curv: pd.DataFrame, sinks: pd.DataFrame, massive: pd.DataFrame) -> dict:
    """Each variant at its last probe: seed means (and the seed range where seeds differ)."""
    parts = []
    if len(curv):
        last = curv[curv["step"] == curv.groupby("run_id")["step"].transform("max")]
        parts.append(last[["variant", "run_id", "eos_ratio", "adam_ratio", "noise_scale"]])
    for frame, name in ((sinks, "sink"), (massive, "massive")):
        if len(frame):
            last = frame[frame["step"] == frame.groupby("run_id")["step"].transform("max")]
            parts.append(last[["variant", "run_id", "value"]].rename(columns={"value": name}))
    if not parts:
        return {"kind": "note", "text": EMPTY.format(what="any instrument"), "cls": "note"}
    merged = parts[0]
    for part in parts[1:]:
        merged = merged.merge(part, on=["variant", "run_id"], how="outer")
    numeric = [col for col in merged.columns if col not in ("variant", "run_id")]
    table = merged.groupby("variant", sort=False)[numeric].mean()
    table["seeds"] = merged.groupby("variant", sort=False)["run_id"].nunique()
    order = dict.fromkeys(v for p in c.panels for v in p.variants)
    table = table.loc[[v for v in order if v in table.index]]
    columns = {
        "variant": "the variant",
        "seeds": "runs averaged",
        "eos_ratio": "sharpness × η/2 at the last probe (1: gradient descent's edge)",
        "adam_ratio": "preconditioned sharpness / Adam's threshold (1: Adam's edge)",
        "noise_scale": "B_simple at the last probe (sequences)",
        "sink": "strongest head's sink mass at the last probe",
        "massive": "largest layer's max |h| / median |h| at the last probe",
    }
    shown = {k: v for k, v in columns.items() if k in table.reset_index().columns}
    formats = {k: ".3g" for k in shown if k not in ("variant", "seeds")} | {"seeds": ".0f"}
    return table_block(table.reset_index(), shown, formats)


def _per_run_max(probes: pd.DataFrame, metric: str) -> pd.DataFrame:
    """variant, run_id, step, value: per run and probe step, the largest over layers and heads."""
    rows = chart_data.finite(probes[probes["metric"] == metric], "value")
    if rows.empty:
        return pd.DataFrame(columns=["variant", "run_id", "step", "value"])
    return rows.groupby(["variant", "run_id", "step"], as_index=False)["value"].max()


def _one(frame: pd.DataFrame, column: str) -> float | None:
    """The column's value where every row agrees on it (a rule for the whole chart)."""
    if column not in frame or frame.empty:
        return None
    values = pd.to_numeric(frame[column], errors="coerce").dropna().unique()
    return float(values[0]) if len(values) == 1 else None
