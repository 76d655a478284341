"""Which choices matter, and how far a variant carries beyond its training length.

effects_chart: one factorial grid's main effects and two-way interactions on final val loss,
largest first, each with its interval adjusted across the grid's terms (Holm, as the
adjusted p: analysis/effects.py) and a rule at zero. length_chart: small multiples
(report/panels.py) of val loss against the evaluated multiple of the training length.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from ablate.report.panels import HEIGHT, WIDTH, Panel, small_multiples


def effects_chart(effects: pd.DataFrame, grid: str) -> alt.LayerChart:
    """effects: one grid's rows of analysis/effects.parquet."""
    e = effects.assign(
        kind=effects["order"].map({1: "main effect", 2: "interaction"}).fillna("other"),
        size=effects["effect"].abs(),
    )
    order = e.sort_values("size", ascending=False)["term"].tolist()
    y = alt.Y("term:N", sort=order, title=None, axis=alt.Axis(labelLimit=320))
    tip = [
        alt.Tooltip("term:N"),
        alt.Tooltip("kind:N"),
        alt.Tooltip("effect:Q", title="effect (nats)", format="+.4f"),
        alt.Tooltip("ci_lo_adj:Q", title="interval low (adjusted)", format="+.4f"),
        alt.Tooltip("ci_hi_adj:Q", title="interval high (adjusted)", format="+.4f"),
        alt.Tooltip("p_value:Q", title="p", format=".2g"),
        alt.Tooltip("p_adj:Q", title="p adjusted", format=".2g"),
    ]
    color = alt.Color("kind:N", title=None, scale=alt.Scale(range=["#4c78a8", "#f58518"]))
    base = alt.Chart(e).encode(y=y, color=color, tooltip=tip)
    bars = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("ci_lo_adj:Q", title="effect on val loss (nats), with interval"), x2="ci_hi_adj:Q"
    )
    dots = base.mark_point(filled=True, size=60).encode(x="effect:Q")
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(strokeDash=[4, 4]).encode(x="x:Q")
    height = max(60, 22 * len(order))
    title = f"Grid {grid}: effects on final val loss (largest first)"
    return alt.layer(zero, bars, dots).properties(title=title, width=560, height=height)


def length_chart(
    length: pd.DataFrame, task_panels: list[Panel], colour: dict[str, str]
) -> alt.ConcatChart:
    """length: one task's rows of analysis/length.parquet."""
    x = alt.X(
        "multiple:Q",
        title="eval length / training length",
        scale=alt.Scale(type="log", base=2, domain=[1, int(length["multiple"].max())]),
        axis=alt.Axis(values=sorted(length["multiple"].unique().tolist()), format="~g"),
    )
    lo, hi = float(length["loss_ci_lo"].min()), float(length["loss_ci_hi"].max())
    low, high = min(lo, float(length["loss_mean"].min())), max(hi, float(length["loss_mean"].max()))
    y = alt.Scale(zero=False, domain=[low, high]) if low < high else alt.Scale(zero=False)
    tip = [
        alt.Tooltip("variant:N"),
        alt.Tooltip("multiple:Q", title="× training length"),
        alt.Tooltip("seq_len:Q", title="eval length"),
        alt.Tooltip("loss_mean:Q", title="val loss (seed mean)", format=".4f"),
        alt.Tooltip("loss_ci_lo:Q", title="interval low", format=".4f"),
        alt.Tooltip("loss_ci_hi:Q", title="interval high", format=".4f"),
        alt.Tooltip("acc_mean:Q", title="val accuracy", format=".3f"),
        alt.Tooltip("n:Q", title="seeds"),
    ]

    def draw(rows: pd.DataFrame, color: alt.Color, panel_title: str) -> alt.LayerChart:
        base = alt.Chart(rows).encode(x=x, color=color)
        line = base.mark_line().encode(y=alt.Y("loss_mean:Q", scale=y, title="val loss"))
        bars = base.mark_rule().encode(y=alt.Y("loss_ci_lo:Q", scale=y), y2="loss_ci_hi:Q")
        dots = base.mark_point(filled=True, size=40).encode(
            y=alt.Y("loss_mean:Q", scale=y), tooltip=tip
        )
        return alt.layer(line, bars, dots).properties(title=panel_title, width=WIDTH, height=HEIGHT)

    title = "Length generalisation: final val loss at multiples of the training length"
    return small_multiples(length, task_panels, colour, draw).properties(title=title)
