"""Training curves as small multiples (report/panels.py): per panel one line per variant
(seed mean) inside its seed band (min..max); every drawn point has a tooltip with the numbers
behind it. All panels share the axes' ranges, so panels can be compared by eye.

Loss charts also draw the task's references (analysis/references.parquet: n-gram models,
chance, the best possible loss) as labelled dashed rules, and open zoomed on the range the
runs end in: the runs' values over the last half of training, down to the nearest
reference below them (and up to one just above them). A "full range" checkbox under the
chart (a Vega-Lite parameter, so it works offline) shows everything from the initial loss
down to the lowest reference."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from ablate.report.panels import HEIGHT, WIDTH, Panel, small_multiples

REFERENCE_COLOUR = "#6e7781"
FULL = "full_range"  # the checkbox's parameter: true shows the full range
MARGIN = 0.05  # of the zoomed range, above and below it
NEAR = 0.1  # a reference this close above the zoomed range (a fraction of it) joins it


def curve_chart(
    band: pd.DataFrame,
    task_panels: list[Panel],
    colour: dict[str, str],
    title: str,
    y_title: str,
    log_y: bool = False,
    y_max: float | None = None,
    references: pd.DataFrame | None = None,
) -> alt.ConcatChart:
    """band: variant, step, mean, lo, hi, n_seeds (report.data.seed_band). references: a
    loss chart's references (reference, val_loss, method; possibly none): given, the chart
    draws them and zooms; None (a chart of something else): neither."""
    full = full_domain(band, log_y, y_max, references)
    # Each panel zooms on where its own runs end (the differences the leaderboard ranks are
    # a few hundredths of a nat; one stalled variant elsewhere must not flatten them); the
    # full range, one click away, is one range for all panels. Clamped, so a diverging seed
    # does not squash the others.
    zooms = {
        p.title: zoom_domain(band[band["variant"].isin(p.variants)], full, references)
        if references is not None
        else full
        for p in task_panels
    }
    zoomed = any(z != full for z in zooms.values())  # else nothing to switch: no checkbox
    x = alt.X("step:Q", title="step", scale=alt.Scale(domain=[0, int(band["step"].max())]))
    rules = _rule_rows(references)

    def draw(rows: pd.DataFrame, color: alt.Color, panel_title: str) -> alt.LayerChart:
        zoom = zooms.get(panel_title, full)
        domain = [alt.ExprRef(f"{FULL} ? {f} : {z}") for f, z in zip(full, zoom, strict=True)]
        domain = domain if zoomed else list(full)
        scale = alt.Scale(type="log" if log_y else "linear", domain=domain, clamp=True)
        base = alt.Chart(rows).encode(x=x, color=color)
        shade = base.mark_area(opacity=0.15).encode(
            y=alt.Y("lo:Q", scale=scale, title=y_title), y2="hi:Q"
        )
        line = base.mark_line(strokeWidth=1.5).encode(y=alt.Y("mean:Q", scale=scale))
        points = base.mark_circle(size=10, opacity=0.7).encode(
            y=alt.Y("mean:Q", scale=scale), tooltip=seed_tooltip()
        )
        layers = [shade, line, points]
        if not rules.empty:
            layers += reference_layers(rules, scale, full, zoom if zoomed else None)
        return alt.layer(*layers).properties(title=panel_title, width=WIDTH, height=HEIGHT)

    chart = small_multiples(band, task_panels, colour, draw).properties(title=title)
    if not zoomed:
        return chart
    checkbox = alt.binding_checkbox(name="full range (zoomed on where the runs end) ")
    return chart.add_params(alt.param(name=FULL, value=False, bind=checkbox))


def full_domain(band, log_y: bool, y_max: float | None, references) -> tuple[float, float]:
    """The runs' whole range (the top at most y_max), down to the lowest reference."""
    lo = band["lo"].astype(float)
    lo = lo[lo > 0] if log_y else lo
    top = float(band["hi"].max())
    top = min(top, y_max) if y_max is not None else top
    bottom = float(lo.min()) if len(lo) else 0.0
    if not np.isfinite(bottom) or not bottom < top:
        bottom, top = (top / 2, top * 2) if top > 0 else (0.0, 1.0)
    if references is not None and len(references):
        values = references["val_loss"].to_numpy(dtype=float)
        bottom = min(bottom, float(np.min(values[values < top], initial=top)))  # NaN: never <
    return bottom, top


def zoom_domain(band, full: tuple[float, float], references) -> tuple[float, float]:
    """The runs' values over the last half of training, down to the nearest reference below
    them (and up to one just above them), with a MARGIN either side (never beyond the full
    range)."""
    last = band[band["step"] >= band["step"].max() / 2]
    low = float(last["lo"].astype(float).min())
    top = min(float(last["hi"].astype(float).max()), full[1])
    if not (np.isfinite(low) and np.isfinite(top) and low < top):
        return full
    if references is not None and len(references):
        values = references["val_loss"].to_numpy(dtype=float)
        below = values[values < low]  # NaN: never < nor >
        low = float(below.max()) if below.size else low
        # a reference just above the runs (within NEAR of the range) would sit on the edge
        near = values[(values > top) & (values <= top + NEAR * (top - low))]
        top = float(np.max(near, initial=top))
    pad = MARGIN * (top - low)
    zoom = (max(full[0], low - pad), min(full[1], top + pad))
    return full if zoom[0] <= full[0] and zoom[1] >= full[1] else zoom


def reference_layers(rules: pd.DataFrame, scale, full, zoom) -> list[alt.Chart]:
    """Dashed rules with a label at the right edge; those outside the range in view are
    left out (the scale clamps, so they would sit on the chart's edge). zoom: None when
    the chart has no zoomed view."""

    def within(lo: float, hi: float) -> str:
        return f"(datum.val_loss >= {lo} && datum.val_loss <= {hi})"

    inside = within(*full) if zoom is None else f"{FULL} ? {within(*full)} : {within(*zoom)}"
    base = alt.Chart(rules).transform_filter(inside)
    tooltip = [
        alt.Tooltip("reference:N"),
        alt.Tooltip("val_loss:Q", title="val loss", format=".4g"),
        alt.Tooltip("method:N"),
    ]
    y = alt.Y("val_loss:Q", scale=scale)
    rule = base.mark_rule(color=REFERENCE_COLOUR, strokeDash=[4, 3], strokeWidth=1)
    text = base.mark_text(
        align="right", baseline="bottom", dx=-2, dy=-1, fontSize=9, color=REFERENCE_COLOUR
    )
    return [
        rule.encode(y=y, tooltip=tooltip),
        text.encode(x=alt.value(WIDTH), y=y, text="label:N", tooltip=tooltip),
    ]


def _rule_rows(references: pd.DataFrame | None) -> pd.DataFrame:
    """One rule per value: references within rounding of each other (a synthetic task's
    unigram is often chance itself) share one rule and one label, 'unigram = chance 3.47'."""
    columns = ["reference", "val_loss", "method", "label"]
    if references is None or references.empty:
        return pd.DataFrame(columns=columns)
    rows = references[["reference", "val_loss", "method"]].astype({"val_loss": float})
    rows = rows[np.isfinite(rows["val_loss"])]
    out = []
    for _, same in rows.groupby(rows["val_loss"].round(2), sort=False):
        names = " = ".join(same["reference"])
        value = float(same["val_loss"].iloc[0])
        method = "; ".join(dict.fromkeys(same["method"]))
        out.append({"reference": names, "val_loss": value, "method": method})
    frame = pd.DataFrame(out, columns=columns[:3])
    frame["label"] = frame["reference"] + " " + frame["val_loss"].map(lambda v: f"{v:.2f}")
    return frame


def seed_tooltip() -> list:
    """The tooltip of a seed band's points (report.chart_data.seed_band columns)."""
    return [
        alt.Tooltip("variant:N"),
        alt.Tooltip("step:Q"),
        alt.Tooltip("mean:Q", title="seed mean", format=".4g"),
        alt.Tooltip("lo:Q", title="seed min", format=".4g"),
        alt.Tooltip("hi:Q", title="seed max", format=".4g"),
        alt.Tooltip("n_seeds:Q", title="seeds"),
    ]
