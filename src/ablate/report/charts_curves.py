"""Training curves as small multiples (report/panels.py): per panel one line per variant
(seed mean) inside its seed band (min..max); every drawn point has a tooltip with the numbers
behind it. All panels share the axes' ranges, so panels can be compared by eye."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from ablate.report.panels import HEIGHT, WIDTH, Panel, small_multiples


def curve_chart(
    band: pd.DataFrame,
    task_panels: list[Panel],
    colour: dict[str, str],
    title: str,
    y_title: str,
    log_y: bool = False,
    y_max: float | None = None,
) -> alt.ConcatChart:
    """band: variant, step, mean, lo, hi, n_seeds (report.data.seed_band)."""
    lo = band["lo"].astype(float)
    lo = lo[lo > 0] if log_y else lo
    top = float(band["hi"].max())
    top = min(top, y_max) if y_max is not None else top
    bottom = float(lo.min()) if len(lo) else 0.0
    if not np.isfinite(bottom) or not bottom < top:
        bottom, top = (top / 2, top * 2) if top > 0 else (0.0, 1.0)
    # one range for all panels; clamp, so a diverging seed does not squash the others
    scale = alt.Scale(type="log" if log_y else "linear", domain=[bottom, top], clamp=True)
    x = alt.X("step:Q", title="step", scale=alt.Scale(domain=[0, int(band["step"].max())]))

    def draw(rows: pd.DataFrame, color: alt.Color, panel_title: str) -> alt.LayerChart:
        base = alt.Chart(rows).encode(x=x, color=color)
        shade = base.mark_area(opacity=0.15).encode(
            y=alt.Y("lo:Q", scale=scale, title=y_title), y2="hi:Q"
        )
        line = base.mark_line(strokeWidth=1.5).encode(y=alt.Y("mean:Q", scale=scale))
        points = base.mark_circle(size=10, opacity=0.7).encode(
            y=alt.Y("mean:Q", scale=scale), tooltip=_tooltip()
        )
        layered = alt.layer(shade, line, points)
        return layered.properties(title=panel_title, width=WIDTH, height=HEIGHT)

    return small_multiples(band, task_panels, colour, draw).properties(title=title)


def _tooltip() -> list:
    return [
        alt.Tooltip("variant:N"),
        alt.Tooltip("step:Q"),
        alt.Tooltip("mean:Q", title="seed mean", format=".4g"),
        alt.Tooltip("lo:Q", title="seed min", format=".4g"),
        alt.Tooltip("hi:Q", title="seed max", format=".4g"),
        alt.Tooltip("n_seeds:Q", title="seeds"),
    ]
