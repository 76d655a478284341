"""Estimate against actual: what `ablate estimate` predicted for the study, beside what the
runs took.

The estimate (results/<study>/estimate.json, written by `ablate estimate`) predicts the wall
time of the runs still to train, with the cores it was given. Two actual numbers are shown:
the runs' own wall_s summed (what one core would have needed), and the span from the first
run's start to the last run's end, which is what the prediction is for. The span is read
from each run's summary.json modification time (its end) minus its wall_s (its start), over
the runs the estimate predicted; it is absent when the run directories are not there.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


def estimate_vs_actual(study_dir: Path, runs: pd.DataFrame) -> list[tuple[str, str]]:
    """(label, text) lines for the report's header."""
    path = study_dir / "estimate.json"
    if not path.exists():
        return [
            ("estimate", "no estimate recorded (run `ablate estimate CONFIG` before the study)")
        ]
    est = json.loads(path.read_text())
    unique = runs.drop_duplicates("run_id").set_index("run_id")
    predicted_ids = [r for r in est.get("per_run", {}) if r in unique.index]
    if est.get("after_tuning") and "tuned" in unique.columns:  # priced before they were known
        after = unique.index[(unique["stage"] == "compare") & (unique["tuned"] != "")]
        predicted_ids += [r for r in after if r not in predicted_ids]
    trained = unique.loc[predicted_ids] if predicted_ids else unique
    wall = pd.to_numeric(trained["wall_s"], errors="coerce")
    lines = [
        (
            "estimate",
            f"{duration(est['total_seconds'])} predicted for "
            f"{est['runs'] + est.get('after_tuning', 0)} runs "
            f"({est['cached']} already cached)",
        ),
        (
            "actual (runs)",
            f"{duration(wall.sum())} of run wall time summed over {len(trained)} runs",
        ),
    ]
    span = wall_span(study_dir.parent / "runs", trained.index, wall)
    if span is not None:
        ratio = est["total_seconds"] / span if span > 0 else float("nan")
        lines.append(
            (
                "actual (span)",
                f"{duration(span)} from the first run's start to the last run's "
                f"end; predicted / actual = {ratio:.2f}",
            )
        )
    return lines


def wall_span(runs_dir: Path, run_ids, wall: pd.Series) -> float | None:
    ends, starts = [], []
    for run_id, seconds in zip(run_ids, wall, strict=True):
        summary = runs_dir / run_id / "summary.json"
        if not summary.exists():
            return None
        end = summary.stat().st_mtime
        ends.append(end)
        starts.append(end - float(seconds))
    return max(ends) - min(starts) if ends else None


def duration(seconds: float) -> str:
    minutes, s = divmod(int(round(float(seconds))), 60)
    h, m = divmod(minutes, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {s:02d} s"
