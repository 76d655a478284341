"""The report's view of a tuned study (study/tuning.py): each variant's tuning curve with
the chosen value marked, the warnings, and the findings that compare the choices.

Every number here is from the tuning runs (the tuning seeds), and says so; the rest of the
page is from the comparison runs at the chosen values.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from ablate.analysis.lr_sensitivity import LR_KEY
from ablate.analysis.ranking import display_order
from ablate.report.leaderboard import table_block
from ablate.report.page import note

COLUMNS = {
    "variant": "the tuned variant",
    "point": "its chosen value (lowest mean final val loss over the tuning seeds)",
    "loss_mean": "mean final val loss there, tuning seeds",
    "loss_ci_lo": "95 % interval of that mean, low",
    "loss_ci_hi": "95 % interval of that mean, high",
    "n": "tuning runs at the chosen value",
    "n_failed": "of them not ok (a failed run ranks a value below every finite loss)",
    "at_edge": "the chosen value is the grid's smallest or largest: widen the grid",
    "lr_sensitivity": "mean over the lr grid of [min(loss, l0) - l*] (Wortsman et al. 2023)",
}
FORMATS = {k: ".4f" for k in ("loss_mean", "loss_ci_lo", "loss_ci_hi", "lr_sensitivity")}


def compared(tuning: pd.DataFrame) -> pd.DataFrame:
    """The tuning rows of the compared variants (a ladder's tuned rungs: ladder_section)."""
    return tuning[~tuning["rung"].astype(bool)] if "rung" in tuning else tuning


def tuning_section(c) -> list[dict]:
    table = compared(c.t["tuning"])
    if table.empty:
        return [
            note(
                "No tuning in this study: every variant trains at the base config's values "
                "(a `tune:` section compares each at its own best; README, Tuning).",
                "empty",
            )
        ]
    chosen = table[table["chosen"].astype(bool)].sort_values("variant")
    blocks = [
        note(
            f"Each variant was trained at every value of {table['key'].iloc[0]} on the tuning "
            "seeds and goes on to the comparison at its chosen value; every other section of "
            "this page is from the comparison runs (the study's seeds), never from these."
        ),
        table_block(chosen, COLUMNS, FORMATS),
    ]
    edge = chosen[chosen["at_edge"].astype(bool)]
    if len(edge):
        names = ", ".join(f"{r.variant} ({r.point})" for r in edge.itertuples(index=False))
        blocks.append(note(f"Best at the edge of the grid: widen it: {names}.", "warning"))
    if "," not in table["key"].iloc[0]:
        blocks.append(
            c.page.chart(
                tuning_chart(table),
                "Mean over the tuning seeds at each value (bars: 95 % interval, none for a "
                "single seed); the large ring marks the chosen value. A value whose runs all "
                "failed has no point: the table's n_failed counts them.",
                f"{c.task}-tuning",
            )
        )
    return blocks


def tuning_chart(table: pd.DataFrame) -> alt.LayerChart:
    key = table["key"].iloc[0]
    data = table.assign(value=table["value"].astype(float))
    scale = alt.Scale(type="log") if key == LR_KEY else alt.Scale(zero=False)
    x = alt.X("value:Q", scale=scale, title=key)
    color = alt.Color("variant:N", title="variant")
    tip = [
        alt.Tooltip("variant:N"),
        alt.Tooltip("point:N", title="value"),
        alt.Tooltip("loss_mean:Q", title="mean val loss (tuning seeds)", format=".4f"),
        alt.Tooltip("loss_ci_lo:Q", title="95 % low", format=".4f"),
        alt.Tooltip("loss_ci_hi:Q", title="95 % high", format=".4f"),
        alt.Tooltip("n:Q", title="runs"),
        alt.Tooltip("n_failed:Q", title="failed"),
        alt.Tooltip("chosen:N"),
    ]
    base = alt.Chart(data).encode(x=x, color=color)
    y = alt.Y("loss_mean:Q", title="final val loss, tuning seeds", scale=alt.Scale(zero=False))
    line = base.mark_line(point=True).encode(y=y, tooltip=tip)
    bars = base.mark_rule().encode(y="loss_ci_lo:Q", y2="loss_ci_hi:Q", tooltip=tip)
    ring = (
        alt.Chart(data[data["chosen"].astype(bool)])
        .mark_point(size=260, strokeWidth=2)
        .encode(x=x, y=y, color=color, tooltip=tip)
    )
    title = f"Tuning: final val loss vs {key} per variant (ring: chosen)"
    return alt.layer(line, bars, ring).properties(title=title, width=640, height=300)


def tuning_sentences(tuning: pd.DataFrame, board: pd.DataFrame, reference: str) -> list[str]:
    """Which variants chose another value than the reference variant, which are at the
    edge of the grid, and the order at the shared value (tuning seeds) against the
    leaderboard's at the chosen values (study seeds)."""
    tuning = compared(tuning)
    if tuning.empty:
        return []
    chosen = tuning[tuning["chosen"].astype(bool)].set_index("variant")
    key = tuning["key"].iloc[0]
    out = []
    if reference in chosen.index:
        own = chosen.loc[reference, "point"]
        other = chosen[chosen["point"] != own]
        if other.empty:
            out.append(f"Tuning: every tuned variant chose {reference}'s value ({own}).")
        else:
            names = ", ".join(f"{v} {r.point}" for v, r in other.iterrows())
            out.append(
                f"Tuning: {len(other)} of {len(chosen)} tuned variants chose another value "
                f"of {key} than {reference} ({own}): {names}."
            )
    edge = chosen[chosen["at_edge"].astype(bool)]
    if len(edge):
        out.append(
            f"Best at the edge of the grid for {len(edge)} variant(s) ({', '.join(edge.index)}): "
            "widen the grid; their best value may lie outside it."
        )
    failed = tuning[tuning["n_failed"] > 0]
    if len(failed):
        parts = [
            f"{variant} at {', '.join(g['point'])}"
            for variant, g in failed.groupby("variant", sort=True)
        ]
        runs = "; ".join(parts)
        out.append(f"Failed tuning runs (tuning seeds; each ranks its value last): {runs}.")
    out += _order_sentence(tuning, board)
    return out


def _order_sentence(tuning: pd.DataFrame, board: pd.DataFrame) -> list[str]:
    shared = tuning[tuning["shared"].astype(bool)]
    if shared.empty or board.empty:
        return []
    finite = shared[np.isfinite(shared["loss_mean"].astype(float)) & (shared["n_failed"] == 0)]
    at_shared = list(finite.sort_values(["loss_mean", "variant"])["variant"])
    tuned = set(shared["variant"])
    at_best = [v for v in display_order(board)["variant"] if v in tuned]
    if len(at_shared) < 2 or len(at_best) < 2:
        return []
    same = [v for v in at_best if v in at_shared] == at_shared
    point = shared["point"].iloc[0]
    seeds = int(shared["n"].max())
    text = (
        f"Order at the shared value {point} (tuning seeds, {seeds} run(s) per variant; "
        f"failed ones left out): {' < '.join(at_shared)}. Order at each variant's chosen "
        f"value (the leaderboard, study seeds): {' < '.join(at_best)}"
    )
    if same:
        return [text + ": the same order."]
    return [
        text + ": a different order (the shared-value order rests on the tuning seeds alone; "
        "the leaderboard's ties say which differences the comparison can tell apart)."
    ]
