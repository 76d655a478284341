"""Shaping study tables into the small frames the charts draw.

The report embeds its data in the HTML, so everything here aggregates over seeds first (one
line per variant: mean, with the min..max range as a band) and then thins long step curves
to at most MAX_POINTS points per line. Binning keeps the min of the mins and the max of
the maxes, so a loss spike still shows in the band after thinning.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ablate.analysis.ranking import display_order

MAX_POINTS = 150  # per curve
MAX_HEAT_STEPS = 60  # step columns of a heatmap
MAP_POSITIONS = 24  # attention maps: first query/key positions kept
MAP_VARIANTS = 4  # attention maps: the reference variant and the best-ranked others


def finite(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    values = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame[np.isfinite(values)]


def step_bins(steps: pd.Series, max_bins: int) -> pd.Series:
    """The last step of each bin of ~equal width, so at most max_bins distinct values."""
    top = int(steps.max()) if len(steps) else 0
    width = max(1, int(np.ceil(top / max_bins)))
    return ((steps - 1) // width + 1) * width


def seed_band(frame: pd.DataFrame, value: str, max_points: int = MAX_POINTS) -> pd.DataFrame:
    """variant, step, mean, lo, hi, n_seeds: seeds aggregated, then steps thinned."""
    f = finite(frame, value)
    per_step = (
        f.groupby(["variant", "step"])[value]
        .agg(mean="mean", lo="min", hi="max", n_seeds="size")
        .reset_index()
    )
    if per_step.empty:
        return per_step
    per_step["bin"] = per_step.groupby("variant")["step"].transform(
        lambda s: step_bins(s, max_points)
    )
    binned = per_step.groupby(["variant", "bin"]).agg(
        step=("step", "max"),
        mean=("mean", "mean"),
        lo=("lo", "min"),
        hi=("hi", "max"),
        n_seeds=("n_seeds", "max"),
    )
    return binned.reset_index().drop(columns="bin")


def val_evals(evals: pd.DataFrame) -> pd.DataFrame:
    """Validation evaluations at each run's training length: its shortest evaluated length
    (longer ones are the length-generalisation evals; a synthetic task's length need not be
    data.seq_len, so it is not read from the spec)."""
    val = evals[evals["split"] == "val"]
    shortest = val.groupby("run_id")["seq_len"].transform("min")
    return val[val["seq_len"] == shortest]


def layer_grad_heat(grads: pd.DataFrame) -> pd.DataFrame:
    """variant, layer, step, grad_norm: modules of a layer combined (L2), seeds averaged."""
    g = finite(grads, "grad_norm")
    per_layer = (
        g.assign(sq=g["grad_norm"].astype(float) ** 2)
        .groupby(["variant", "seed", "step", "layer"])["sq"]
        .sum()
        .pow(0.5)
        .rename("grad_norm")
        .reset_index()
    )
    return _heat(per_layer, ["variant", "layer"], "grad_norm")


def entropy_heat(probes: pd.DataFrame) -> pd.DataFrame:
    """variant, layer, head, head_label, step, attn_entropy (seed mean)."""
    p = finite(probes[probes["metric"] == "attn_entropy"], "value")
    p = p.rename(columns={"value": "attn_entropy"})
    heat = _heat(p, ["variant", "layer", "head"], "attn_entropy")
    heat["head_label"] = "L" + heat["layer"].astype(str) + " H" + heat["head"].astype(str)
    return heat


def _heat(frame: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=[*keys, "step", value])
    binned = step_bins(frame["step"].clip(lower=1), MAX_HEAT_STEPS)
    frame = frame.assign(step=binned.where(frame["step"] > 0, 0))  # step 0 (init) stays apart
    return frame.groupby([*keys, "step"])[value].mean().reset_index()


def map_variants(leaderboard: pd.DataFrame, reference: str) -> list[str]:
    """One task's leaderboard -> the reference variant, then the best-ranked others."""
    ranked = display_order(leaderboard)["variant"].tolist()
    chosen = [reference] if reference in ranked else []
    chosen += [v for v in ranked if v != reference]
    return chosen[:MAP_VARIANTS]


def attention_maps(maps: pd.DataFrame, variants: list[str]) -> pd.DataFrame:
    """Final maps of the lowest seed of each chosen variant, first MAP_POSITIONS positions."""
    m = maps[maps["variant"].isin(variants)]
    if m.empty:
        return m
    first_seed = m.groupby("variant")["seed"].transform("min")
    keep = (m["seed"] == first_seed) & (m["query"] < MAP_POSITIONS) & (m["key"] < MAP_POSITIONS)
    m = m[keep][["variant", "seed", "layer", "head", "query", "key", "weight"]]
    return m.assign(weight=m["weight"].astype(float).round(4))
