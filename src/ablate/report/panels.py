"""Small multiples: one panel per ablation group, the baseline drawn in every panel.

A task's variants are grouped by the `group` column of runs (the ablated key, such as
'model.pos', or the grid's name); each group is one panel holding its variants and the
reference variant, so every variant is compared with the baseline and no panel holds more
than MAX_PER_PANEL + 1 lines: a larger group is split into panels of MAX_PER_PANEL. Every
variant has one colour on every chart of its task: the baseline is always near-black, the
others take the palette in their panel's order (colours repeat only across panels, never
within one).
"""

from __future__ import annotations

from dataclasses import dataclass

import altair as alt
import pandas as pd

MAX_PER_PANEL = 7  # plus the baseline: 8 lines, about what a reader can tell apart
BASELINE_COLOUR = "#1f2328"
PALETTE = ["#4c78a8", "#f58518", "#e45756", "#54a24b", "#b279a2", "#9d755d", "#17becf"]
COLUMNS = 3
WIDTH, HEIGHT = 300, 170


@dataclass(frozen=True)
class Panel:
    title: str
    variants: tuple[str, ...]  # the reference first, then the group's variants


def panels(runs: pd.DataFrame, reference: str) -> list[Panel]:
    """runs of one task -> its panels, groups in the order they first appear in runs."""
    firsts = runs.drop_duplicates("variant")
    by_group: dict[str, list[str]] = {}
    for variant, group in zip(firsts["variant"], firsts["group"], strict=True):
        if variant != reference:
            by_group.setdefault(str(group), []).append(str(variant))
    out = []
    for group, variants in by_group.items():
        chunks = [variants[i : i + MAX_PER_PANEL] for i in range(0, len(variants), MAX_PER_PANEL)]
        for i, chunk in enumerate(chunks, start=1):
            title = group if len(chunks) == 1 else f"{group} ({i}/{len(chunks)})"
            out.append(Panel(title, (reference, *chunk)))
    if not out:  # a study of the baseline alone still gets its curves
        out.append(Panel("baseline", (reference,)))
    return out


def colours(task_panels: list[Panel]) -> dict[str, str]:
    """variant -> colour, the same on every chart of the task."""
    out: dict[str, str] = {}
    for panel in task_panels:
        reference, *others = panel.variants
        out[reference] = BASELINE_COLOUR
        for i, variant in enumerate(others):
            out.setdefault(variant, PALETTE[i % len(PALETTE)])
    return out


def small_multiples(frame: pd.DataFrame, task_panels: list[Panel], colour: dict[str, str], draw):
    """One panel per Panel, drawn by ``draw(rows, color_encoding, title)`` (a chart), wrapped
    COLUMNS to a row. Panels whose variants have no rows in `frame` are left out."""
    charts = []
    for panel in task_panels:
        shown = [v for v in panel.variants if v in set(frame["variant"])]
        if not shown:
            continue
        rows = frame[frame["variant"].isin(shown)]
        encoding = alt.Color(
            "variant:N",
            scale=alt.Scale(domain=shown, range=[colour[v] for v in shown]),
            legend=alt.Legend(
                title=None,
                orient="bottom",
                columns=2,
                labelLimit=200,
                symbolType="stroke",
                symbolStrokeWidth=3,
                symbolOpacity=1,
            ),
            sort=shown,
        )
        charts.append(draw(rows, encoding, panel.title))
    return alt.concat(*charts, columns=COLUMNS).resolve_scale(color="independent")


class Ctx:
    """What every section of one task draws with: the page, the task's tables, the reference
    variant, its panels and their colours."""

    def __init__(self, page, task, t, reference, task_panels, colour):
        self.page, self.task, self.t, self.reference = page, task, t, reference
        self.panels, self.colour = task_panels, colour

    def chart_or_note(self, frame, build, caption: str, empty: str, name: str) -> dict:
        return self.page.chart_or_note(frame, build, caption, empty, f"{self.task}-{name}")


PANELS_NOTE = (
    "One panel per ablation group (the ablated key or grid), the baseline in near-black in "
    "every panel; a variant has the same colour on every chart of this task."
)
