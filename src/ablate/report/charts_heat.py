"""Heatmaps with a variant drop-down: per-layer gradient norms, attention entropy per head
over training, and the final attention maps (faceted by layer and head)."""

from __future__ import annotations

import altair as alt
import pandas as pd


def _dropdown(variants: list[str], name: str) -> alt.Parameter:
    return alt.param(
        name=name, value=variants[0], bind=alt.binding_select(options=variants, name="variant ")
    )


def grad_heatmap(heat: pd.DataFrame, variants: list[str]) -> alt.Chart:
    """heat: variant, layer, step, grad_norm (report.data.layer_grad_heat)."""
    pick = _dropdown(variants, "grad_variant")
    return (
        alt.Chart(heat)
        .mark_rect()
        .encode(
            x=alt.X(
                "step:O", title="step (bin end)", axis=alt.Axis(labelAngle=0, labelOverlap=True)
            ),
            y=alt.Y("layer:O", title="layer (-1: embedding/head)"),
            color=alt.Color(
                "grad_norm:Q", title="grad norm", scale=alt.Scale(type="log", scheme="viridis")
            ),
            tooltip=[
                alt.Tooltip("variant:N"),
                alt.Tooltip("layer:O"),
                alt.Tooltip("step:O", title="step (bin end)"),
                alt.Tooltip("grad_norm:Q", title="grad norm (seed mean)", format=".4g"),
            ],
        )
        .transform_filter(alt.datum.variant == pick)
        .add_params(pick)
        .properties(title="Gradient norm per layer (modules combined, seed mean)", width=640)
    )


def entropy_heatmap(heat: pd.DataFrame, variants: list[str]) -> alt.Chart:
    """heat: variant, layer, head, head_label, step, attn_entropy (report.data.entropy_heat)."""
    pick = _dropdown(variants, "entropy_variant")
    return (
        alt.Chart(heat)
        .mark_rect()
        .encode(
            x=alt.X("step:O", title="probe step", axis=alt.Axis(labelAngle=0, labelOverlap=True)),
            y=alt.Y("head_label:N", title="layer, head", sort=None),
            color=alt.Color(
                "attn_entropy:Q",
                title="entropy (1 uniform, 0 one-hot)",
                scale=alt.Scale(domain=[0, 1], scheme="viridis"),
            ),
            tooltip=[
                alt.Tooltip("variant:N"),
                alt.Tooltip("layer:O"),
                alt.Tooltip("head:O"),
                alt.Tooltip("step:O", title="probe step"),
                alt.Tooltip("attn_entropy:Q", title="normalised entropy", format=".3f"),
            ],
        )
        .transform_filter(alt.datum.variant == pick)
        .add_params(pick)
        .properties(title="Attention entropy per head over training (seed mean)", width=640)
    )


def attention_map_chart(maps: pd.DataFrame, variants: list[str]) -> alt.FacetChart:
    """maps: variant, seed, layer, head, query, key, weight (report.data.attention_maps)."""
    pick = _dropdown(variants, "map_variant")
    no_labels = alt.Axis(labels=False, ticks=False, title=None)
    cell = (
        alt.Chart(maps)
        .mark_rect()
        .encode(
            x=alt.X("key:O", axis=no_labels),
            y=alt.Y("query:O", axis=no_labels),
            color=alt.Color(
                "weight:Q", title="attention", scale=alt.Scale(domain=[0, 1], scheme="blues")
            ),
            tooltip=[
                alt.Tooltip("variant:N"),
                alt.Tooltip("seed:Q"),
                alt.Tooltip("layer:O"),
                alt.Tooltip("head:O"),
                alt.Tooltip("query:O", title="query position"),
                alt.Tooltip("key:O", title="key position"),
                alt.Tooltip("weight:Q", title="attention weight", format=".3f"),
            ],
        )
        .transform_filter(alt.datum.variant == pick)
        .properties(width=110, height=110)
    )
    return (
        cell.facet(row=alt.Row("layer:O", title="layer"), column=alt.Column("head:O", title="head"))
        .add_params(pick)
        .properties(title="Final attention maps (probe sequence, lowest seed; rows = queries)")
    )
