"""The report's view of the variants' size ladders (study/ladder.py,
analysis/scaling_variants.py): each variant's local scaling slope against the baseline's,
its loss against size with the baseline's ladder in every panel, and the compute-matched
view (every rung's loss against its training FLOPs).
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from ablate.report.difference_findings import interval, p_text
from ablate.report.leaderboard import table_block
from ablate.report.page import note
from ablate.report.reference_findings import variant_references

PARAMS = "n_params_non_embedding"
COLUMNS = {
    "variant": "the variant whose ladder this is",
    "n_sizes": "rungs",
    "n_seeds": "seeds with a slope (a finished run at >= 3 rungs)",
    "alpha": "local slope: -d log loss / d log N (non-embedding parameters), seed mean",
    "alpha_ci_lo": "95 % t-interval over seeds, low",
    "alpha_ci_hi": "95 % t-interval over seeds, high",
    "alpha_diff": "alpha - the baseline's, paired by seed",
    "alpha_diff_ci_lo": "interval of the difference at Holm's level, low",
    "alpha_diff_ci_hi": "interval of the difference at Holm's level, high",
    "alpha_diff_p_adj": "Holm-adjusted p of the paired difference (across the task's ladders)",
    "loss_at_largest": "mean final val loss at the ladder's largest rung",
}
FORMATS = {k: ".4f" for k in COLUMNS if k.startswith(("alpha", "loss"))}
FORMATS["alpha_diff_p_adj"] = ".2g"


def ladder_blocks(c) -> list[dict]:
    table, points = c.t.get("scaling_variants"), c.t.get("ladder_points")
    if table is None or table.empty:
        return [
            note(
                "No size ladder in this study (a `scaling:` section trains chosen variants at "
                "several sizes; docs/writing-a-study.md).",
                "empty",
            )
        ]
    by_params = table[table["x"] == PARAMS].sort_values("variant")
    refs = variant_references(c.t.get("references", pd.DataFrame()), c.reference)
    lr_text, lr_points = rung_values(c.t.get("tuning", pd.DataFrame()), points)
    lr_blocks = [note(lr_text)]
    if len(lr_points):
        lr_blocks.append(table_block(rung_table(lr_points), RUNG_COLUMNS, RUNG_FORMATS))
        lr_blocks.append(
            c.page.chart(
                rung_value_chart(lr_points),
                "The value each rung chose on the tuning seeds (lowest mean final val loss): "
                "a flat line means the optimum does not move with size.",
                f"{c.task}-rung-values",
            )
        )
    return [
        note(
            "Each ladder: one variant trained at every rung, on every seed; alpha is the "
            "slope of log loss against log size per seed (a local power law over the rungs, "
            "not a fitted law), Δα pairs each seed's slope with the baseline's."
        ),
        table_block(by_params, COLUMNS, FORMATS),
        c.page.chart(
            ladder_chart(points, by_params["reference"].iloc[0], refs),
            "Log-log: each panel one ladder (mean over seeds; bars: seed min..max), the "
            "baseline's ladder in grey in every panel; dashed: the task's references.",
            f"{c.task}-ladders",
        ),
        c.page.chart(
            compute_chart(points),
            "Every rung of every ladder at its training FLOPs; lines join each variant's "
            "compute frontier (the lowest loss reached at or below each compute).",
            f"{c.task}-compute",
        ),
        *lr_blocks,
    ]


def rung_values(tuning: pd.DataFrame, points: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    """How each rung's tuned values were set, in a sentence, and (when rungs were tuned on
    their own) each rung's chosen point at its size, for the chart."""
    if tuning is None or tuning.empty:
        return "Every rung trains at the base config's values (no tuning in this study).", (
            pd.DataFrame()
        )
    chosen = tuning[tuning["chosen"].astype(bool)]
    key = chosen["key"].iloc[0]
    tuned = points.merge(chosen[["task", "variant", "value", "point"]], on=["task", "variant"])
    ladders = set(points["ladder"])
    if "rung" in chosen and chosen["rung"].astype(bool).any():
        return (
            f"The rungs of {', '.join(sorted(set(tuned['ladder'])))} were tuned each on their "
            f"own ({key} on the tuning seeds, as their variants were), so every rung is "
            "compared at its own best value.",
            tuned,
        )
    own = sorted(ladders & set(chosen["variant"]))
    if own:
        return (
            f"The rungs of {', '.join(own)} train at their variant's chosen {key} "
            "(scaling.transfer: the value tuned at the variant's own size is taken to carry "
            "to every size, as muP promises; a rung tuned on its own may prefer another).",
            pd.DataFrame(),
        )
    return f"The ladders' variants are not tuned: every rung trains at the base {key}.", (
        pd.DataFrame()
    )


RUNG_COLUMNS = {
    "ladder": "the variant whose ladder this is",
    "variant": "the rung (the variant itself at its own size)",
    PARAMS: "non-embedding parameters",
    "point": "the value the rung chose on the tuning seeds",
    "loss_mean": "mean final val loss at that value, comparison seeds",
}
RUNG_FORMATS = {"loss_mean": ".4f", PARAMS: ",.0f"}


def rung_table(points: pd.DataFrame) -> pd.DataFrame:
    return points.sort_values(["ladder", PARAMS])[list(RUNG_COLUMNS)]


def rung_value_sentences(tuning: pd.DataFrame, points: pd.DataFrame) -> list[str]:
    """Per ladder whose rungs were tuned: does the chosen value move with size?"""
    if tuning is None or points is None or tuning.empty or "rung" not in tuning:
        return []
    _, tuned = rung_values(tuning, points)
    if tuned.empty:
        return []
    key = tuning["key"].iloc[0]
    parts = []
    for ladder, g in tuned.sort_values(PARAMS).groupby("ladder", sort=True):
        values = [f"{v:g}" for v in g["value"]]
        if len(set(values)) == 1:
            parts.append(f"on {ladder}'s ladder it stays at {values[0]} over all {len(g)} rungs")
        else:
            steps = " → ".join(values)
            parts.append(f"on {ladder}'s ladder it moves {steps} from smallest to largest")
    return [
        f"Tuned {key} per rung (one choice per rung on the tuning seeds, on a grid of "
        f"{tuning['value'].nunique()} values): " + "; ".join(parts) + "."
    ]


def rung_value_chart(points: pd.DataFrame) -> alt.Chart:
    x = alt.X(f"{PARAMS}:Q", scale=alt.Scale(type="log"), title="non-embedding parameters")
    y = alt.Y("value:Q", scale=alt.Scale(type="log"), title="chosen value")
    tip = [
        alt.Tooltip("variant:N"),
        alt.Tooltip("point:N"),
        alt.Tooltip(f"{PARAMS}:Q", format=".3s"),
    ]
    return (
        alt.Chart(points)
        .mark_line(point=True)
        .encode(x=x, y=y, color=alt.Color("ladder:N", title="ladder"), tooltip=tip)
        .properties(title="Each rung's tuned value against size", width=640, height=240)
    )


def ladder_chart(points: pd.DataFrame, reference: str, refs: pd.DataFrame) -> alt.FacetChart:
    ladders = sorted(points["ladder"].unique(), key=lambda v: (v != reference, v))
    base = points[points["ladder"] == reference]
    parts = [points[points["ladder"] == v].assign(panel=v, kind="this ladder") for v in ladders]
    parts += [base.assign(panel=v, kind=reference) for v in ladders if v != reference]
    # the references as rows of every panel (a faceted chart takes one data set); each mark
    # drops the rows where its y is missing, so no filter is needed
    refs = refs[refs["val_loss"].astype(float) > 0]  # a log axis: no "best possible" 0
    parts += [refs[["reference", "val_loss"]].assign(panel=v, kind="reference") for v in ladders]
    data = pd.concat(parts, ignore_index=True)
    x = alt.X(f"{PARAMS}:Q", scale=alt.Scale(type="log"), title="non-embedding parameters")
    y = alt.Y("loss_mean:Q", scale=alt.Scale(type="log"), title="final val loss")
    kinds = alt.Scale(domain=[reference, "this ladder"], range=["#8c959f", "#0969da"])
    color = alt.Color("kind:N", scale=kinds, title="")
    tip = [
        alt.Tooltip("variant:N"),
        alt.Tooltip(f"{PARAMS}:Q", format=".3s"),
        alt.Tooltip("loss_mean:Q", format=".4f"),
        alt.Tooltip("n_used:Q", title="seeds"),
    ]
    rungs = alt.Chart()
    line = rungs.mark_line(point=True).encode(x=x, y=y, color=color, tooltip=tip)
    bars = rungs.mark_rule().encode(x=x, y="loss_min:Q", y2="loss_max:Q", color=color)
    rules = (
        alt.Chart()
        .mark_rule(strokeDash=[4, 4], color="#6e7781")
        .encode(y="val_loss:Q", tooltip=["reference:N", alt.Tooltip("val_loss:Q", format=".3f")])
    )
    chart = alt.layer(line, bars, rules, data=data).properties(width=220, height=200)
    return chart.facet(column=alt.Column("panel:N", title=None, sort=ladders)).properties(
        title="Loss against size, per ladder"
    )


def frontier(points: pd.DataFrame) -> pd.DataFrame:
    """Per ladder, the lowest loss reached at or below each of its rungs' compute."""
    out = []
    for _, g in points.dropna(subset=["loss_mean"]).groupby("ladder", sort=True):
        g = g.sort_values("flops")
        out.append(g.assign(frontier=np.minimum.accumulate(g["loss_mean"].to_numpy())))
    return pd.concat(out, ignore_index=True) if out else points.assign(frontier=np.nan)


def compute_chart(points: pd.DataFrame) -> alt.LayerChart:
    data = frontier(points)
    x = alt.X("flops:Q", scale=alt.Scale(type="log"), title="training FLOPs")
    color = alt.Color("ladder:N", title="variant")
    tip = [alt.Tooltip("variant:N"), alt.Tooltip("flops:Q", format=".3s"),
           alt.Tooltip("loss_mean:Q", format=".4f")]  # fmt: skip
    y = alt.Y("loss_mean:Q", scale=alt.Scale(type="log"), title="final val loss")
    dots = (
        alt.Chart(data).mark_point(filled=True, size=60).encode(x=x, y=y, color=color, tooltip=tip)
    )
    line = alt.Chart(data).mark_line().encode(x=x, y="frontier:Q", color=color)
    title = "Compute-matched: final val loss against training FLOPs (lines: each frontier)"
    return alt.layer(line, dots).properties(title=title, width=640, height=300)


def ladder_sentences(table: pd.DataFrame, points: pd.DataFrame) -> list[str]:
    """Which ladders scale better or worse than the baseline's (Holm-adjusted), or that the
    study cannot tell; and the best variant at the largest compute every ladder reached."""
    if table is None or table.empty:
        return []
    rows = table[table["x"] == PARAMS]
    reference = rows["reference"].iloc[0]
    ref = rows[rows["variant"] == reference]
    out = []
    if len(ref):
        r = ref.iloc[0]
        out.append(
            f"Scaling along the ladders (loss against non-embedding parameters, "
            f"{int(r.n_sizes)} rungs): {reference}'s slope α = "
            f"{interval(r.alpha, r.alpha_ci_lo, r.alpha_ci_hi)} over {int(r.n_seeds)} "
            f"seed{'s' if r.n_seeds != 1 else ''}."
        )
    others = rows[rows["variant"] != reference]
    untested = others[~np.isfinite(others["alpha_diff_p_adj"].astype(float))]
    if len(untested):
        names = ", ".join(
            f"{r.variant} α {r.alpha:.3f} (Δα {r.alpha_diff:+.3f})"
            for r in untested.itertuples(index=False)
        )
        out.append(
            f"Not tested against {reference}'s slope (fewer than 2 seeds with a slope on both "
            f"ladders): {names}."
        )
    others = others[np.isfinite(others["alpha_diff_p_adj"].astype(float))]
    clear = others[others["alpha_diff_significant"].astype(bool)]
    for r in clear.itertuples(index=False):
        better = "faster" if r.alpha_diff > 0 else "slower"
        out.append(
            f"{r.variant}'s loss falls {better} with size than {reference}'s: Δα "
            f"{interval(r.alpha_diff, r.alpha_diff_ci_lo, r.alpha_diff_ci_hi)} (adjusted p "
            f"{p_text(r.alpha_diff_p_adj)})."
        )
    unclear = others[~others["alpha_diff_significant"].astype(bool)]
    if len(unclear):
        names = ", ".join(
            f"{r.variant} Δα {r.alpha_diff:+.3f}" for r in unclear.itertuples(index=False)
        )
        out.append(
            f"The study cannot tell these ladders' slopes from {reference}'s after adjusting "
            f"for {len(others)} comparison{'s' if len(others) > 1 else ''}: {names}."
        )
    out += _compute_sentence(points)
    return out


def _compute_sentence(points: pd.DataFrame) -> list[str]:
    done = points.dropna(subset=["loss_mean"])
    if done["ladder"].nunique() < 2:
        return []
    budget = done.groupby("ladder")["flops"].max().min()  # every ladder reached this much
    within = done[done["flops"] <= budget * (1 + 1e-9)]
    best = within.sort_values("flops").groupby("ladder").tail(1)  # each one's largest rung in it
    top = best.sort_values(["loss_mean", "ladder"]).iloc[0]
    return [
        f"Compute-matched: at {budget:.3g} training FLOPs, the most every ladder spent, the "
        f"lowest mean loss is {top['ladder']}'s ({top['loss_mean']:.3f} at its rung "
        f"{top['variant']}; each ladder's largest rung within that compute compared)."
    ]
