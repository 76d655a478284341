"""Study-level charts: loss against model size with fitted laws, and loss against lr."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from ablate.analysis.scaling_fit import predict

CURVE_POINTS = 60


def fit_curves(points: pd.DataFrame, fits: pd.DataFrame) -> pd.DataFrame:
    """Each family's fitted law over N, from its smallest size to 10x its largest; only over
    the measured sizes where the law is not identifiable (no extrapolation is drawn)."""
    rows = []
    for fit in fits[fits["x"] == "n_params_non_embedding"].itertuples(index=False):
        if not np.isfinite([fit.A, fit.alpha, fit.E]).all():
            continue
        n = points.loc[points["family"] == fit.family, "n_params_non_embedding"]
        top = 10 * fit.x_max if fit.identified else fit.x_max
        xs = np.unique(np.append(np.geomspace(n.min(), top, CURVE_POINTS), fit.x_max))
        parts = [("fitted", xs <= fit.x_max)]
        if fit.identified:
            parts.append(("extrapolated", xs >= fit.x_max))
        for part, keep in parts:
            rows += [
                {
                    "family": fit.family,
                    "part": part,
                    "n_params_non_embedding": x,
                    "loss": float(predict(fit.E, fit.A, fit.alpha, x)),
                    "model": fit.model,
                    "alpha": fit.alpha,
                    "alpha_ci_lo": fit.alpha_ci_lo,
                    "alpha_ci_hi": fit.alpha_ci_hi,
                    "E": fit.E,
                }
                for x in xs[keep]
            ]
    return pd.DataFrame(rows)


def scaling_chart(points: pd.DataFrame, fits: pd.DataFrame) -> alt.LayerChart:
    log = alt.Scale(type="log", nice=False, padding=12)  # powers-of-10 rounding wastes space
    x = alt.X(
        "n_params_non_embedding:Q",
        scale=log,
        title="non-embedding parameters N",
        axis=alt.Axis(format="~s", labelOverlap=True),
    )
    color = alt.Color("family:N", title="family")
    base = alt.Chart(points).encode(x=x, color=color)
    tip = [
        alt.Tooltip("variant:N"),
        alt.Tooltip("family:N"),
        alt.Tooltip("n_params_non_embedding:Q", title="N", format=",.0f"),
        alt.Tooltip("flops:Q", title="FLOPs", format=".3g"),
        alt.Tooltip("loss_mean:Q", title="val loss (seed mean)", format=".4f"),
        alt.Tooltip("loss_std:Q", title="seed std", format=".4f"),
        alt.Tooltip("loss_min:Q", title="seed min", format=".4f"),
        alt.Tooltip("loss_max:Q", title="seed max", format=".4f"),
        alt.Tooltip("n_used:Q", title="seeds"),
    ]
    bars = base.mark_rule().encode(y=alt.Y("loss_min:Q", scale=log), y2="loss_max:Q", tooltip=tip)
    dots = base.mark_point(filled=True, size=60).encode(
        y=alt.Y("loss_mean:Q", scale=log, title="final val loss"), tooltip=tip
    )
    layers = [bars, dots]
    curves = fit_curves(points, fits)
    if not curves.empty:
        line = (
            alt.Chart(curves)
            .mark_line()
            .encode(
                x=x,
                y=alt.Y("loss:Q", scale=log),
                color=color,
                strokeDash=alt.StrokeDash(
                    "part:N",
                    title="law",
                    scale=alt.Scale(domain=["fitted", "extrapolated"], range=[[1, 0], [5, 4]]),
                ),
                detail="part:N",
                tooltip=[
                    alt.Tooltip("family:N"),
                    alt.Tooltip("part:N"),
                    alt.Tooltip("model:N", title="law"),
                    alt.Tooltip("n_params_non_embedding:Q", title="N", format=",.0f"),
                    alt.Tooltip("loss:Q", title="predicted loss", format=".4f"),
                    alt.Tooltip("alpha:Q", format=".4f"),
                    alt.Tooltip("alpha_ci_lo:Q", title="alpha CI low", format=".4f"),
                    alt.Tooltip("alpha_ci_hi:Q", title="alpha CI high", format=".4f"),
                    alt.Tooltip("E:Q", format=".4f"),
                ],
            )
        )
        layers.append(line)
    title = "Scaling: final val loss vs non-embedding parameters (bars: seed min..max)"
    return alt.layer(*layers).properties(title=title, width=640, height=300)


def lr_chart(curves: pd.DataFrame) -> alt.LayerChart:
    """curves: task, family, variant, lr, loss_mean, loss_min, loss_max, n_diverged, l0."""
    data = curves.assign(any_diverged=curves["n_diverged"] > 0)
    x = alt.X("lr:Q", scale=alt.Scale(type="log"), title="learning rate")
    color = alt.Color("family:N", title="family")
    tip = [
        alt.Tooltip("family:N"),
        alt.Tooltip("variant:N"),
        alt.Tooltip("lr:Q", format=".3g"),
        alt.Tooltip("loss_mean:Q", title="capped loss (seed mean)", format=".4f"),
        alt.Tooltip("loss_min:Q", title="seed min", format=".4f"),
        alt.Tooltip("loss_max:Q", title="seed max", format=".4f"),
        alt.Tooltip("n_runs:Q", title="runs"),
        alt.Tooltip("n_diverged:Q", title="diverged"),
        alt.Tooltip("l0:Q", title="l0 (loss at init)", format=".4f"),
    ]
    base = alt.Chart(data).encode(x=x, color=color)
    line = base.mark_line().encode(y=alt.Y("loss_mean:Q", scale=alt.Scale(zero=False)))
    bars = base.mark_rule().encode(y="loss_min:Q", y2="loss_max:Q", tooltip=tip)
    dots = base.mark_point(filled=True, size=70).encode(
        y=alt.Y("loss_mean:Q", title="final val loss, capped at l0"),
        shape=alt.Shape("any_diverged:N", title="a seed diverged"),
        tooltip=tip,
    )
    l0 = (
        alt.Chart(data)
        .mark_rule(strokeDash=[4, 4])
        .encode(
            y="mean(l0):Q",
            color=color,
            tooltip=[alt.Tooltip("family:N"), alt.Tooltip("mean(l0):Q", title="l0", format=".4f")],
        )
    )
    title = "LR sensitivity: loss vs learning rate (dashed: l0, diverged runs count as l0)"
    return alt.layer(line, bars, dots, l0).properties(title=title, width=640, height=300)
