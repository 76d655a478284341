"""Training curves: one line per variant (seed mean) inside its seed band (min..max).

Clicking a legend entry highlights that variant (shift-click for several); every drawn point
carries a tooltip with the numbers behind it.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

WIDTH, HEIGHT = 640, 260


def curve_chart(
    band: pd.DataFrame,
    title: str,
    y_title: str,
    log_y: bool = False,
    y_max: float | None = None,
) -> alt.LayerChart:
    """band: variant, step, mean, lo, hi, n_seeds (report.data.seed_band)."""
    pick = alt.selection_point(fields=["variant"], bind="legend", name="pick")
    # log scales have no zero; linear ones should not be forced down to it
    limits = {"type": "log"} if log_y else {"type": "linear", "zero": False}
    if y_max is not None:  # a diverging seed would otherwise squash every other curve
        limits |= {"domainMax": y_max, "clamp": True}
    scale = alt.Scale(**limits)
    base = alt.Chart(band).encode(
        x=alt.X("step:Q", title="step"),
        color=alt.Color(
            "variant:N",
            scale=alt.Scale(scheme="tableau20"),  # ten colours are not enough for a study
            legend=alt.Legend(symbolLimit=0, labelLimit=260, symbolOpacity=1),
        ),
    )
    shade = base.mark_area().encode(
        y=alt.Y("lo:Q", scale=scale, title=y_title),
        y2="hi:Q",
        opacity=alt.condition(pick, alt.value(0.18), alt.value(0.02)),
        tooltip=_tooltip(),
    )
    line = base.mark_line(strokeWidth=1.6).encode(
        y=alt.Y("mean:Q", scale=scale),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.12)),
    )
    points = base.mark_circle(size=16).encode(
        y=alt.Y("mean:Q", scale=scale),
        opacity=alt.condition(pick, alt.value(0.9), alt.value(0.08)),
        tooltip=_tooltip(),
    )
    layered = alt.layer(shade, line, points).add_params(pick)
    return layered.properties(title=title, width=WIDTH, height=HEIGHT)


def _tooltip() -> list:
    return [
        alt.Tooltip("variant:N"),
        alt.Tooltip("step:Q"),
        alt.Tooltip("mean:Q", title="seed mean", format=".4g"),
        alt.Tooltip("lo:Q", title="seed min", format=".4g"),
        alt.Tooltip("hi:Q", title="seed max", format=".4g"),
        alt.Tooltip("n_seeds:Q", title="seeds"),
    ]
