"""Reading a study directory: the Parquet tables of ablate.store.tables, checked on the way in.

Analysis and the report read only these files (never the run directories), so an old study
can be re-analysed without training anything. Every table is checked for the columns
tables.py promises, so a stale or hand-edited file fails here with the missing column named
instead of deep inside a groupby.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ablate.spec.stages import COMPARE, TUNE
from ablate.store.tables import SPEC_COLUMNS, study_columns

# run spec columns that name the run's draw rather than its configuration
SEED_KEYS = ("seed", "data_seed")
# The metrics the statistics are about: their name in the analysis tables -> their column of
# runs.parquet (tables.SUMMARY). The loss is the one the leaderboard orders by.
METRICS = {"val_loss": "final_val_loss", "val_acc": "final_val_acc"}
LOSS = METRICS["val_loss"]
# The range of every metric whose mean gets an interval, stated once: [low, high], keyed by
# its name in the analysis tables (the seeds table's METRICS; the length table's, which are
# evals.parquet columns; the positive run summaries). Intervals of a mean stay inside it
# (inference.bounded_interval); differences of two values are unbounded (t_interval).
INF = float("inf")
BOUNDS = {
    "val_loss": (0.0, INF),  # nats per scored token: a cross-entropy
    "val_acc": (0.0, 1.0),  # fraction of scored tokens predicted exactly
    "loss": (0.0, INF),
    "token_acc": (0.0, 1.0),
    "max_grad_norm": (0.0, INF),
    "median_grad_norm": (0.0, INF),
    "final_attn_logit_max": (0.0, INF),  # largest q.k / sqrt(d_h): positive in practice
}


class StudyError(ValueError):
    """A study directory is missing a table or a column. The message names which."""


def read_table(study_dir: str | Path, name: str, required: bool = True) -> pd.DataFrame:
    """results/<study>/<name>.parquet with its columns checked; empty frame if optional+absent."""
    path = Path(study_dir) / f"{name}.parquet"
    columns = study_columns(name)
    if not path.exists():
        if required:
            raise StudyError(f"{path} is missing (table {name!r})")
        return pd.DataFrame(columns=columns)
    frame = pd.read_parquet(path)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise StudyError(f"{path}: missing column(s) {missing} (expected {columns})")
    return frame


def read_study_json(study_dir: str | Path) -> dict:
    path = Path(study_dir) / "study.json"
    if not path.exists():
        return {"study": Path(study_dir).name, "baseline": "baseline"}
    return json.loads(path.read_text())


def read_runs(
    study_dir: str | Path, stage: str | None = COMPARE, rungs: bool = False
) -> pd.DataFrame:
    """runs.parquet's rows of one stage (study/tuning.py): by default the comparison's, the
    runs every statistic is about; ``stage=None``: every row, tuning runs too. A ladder's
    extra rungs (study/ladder.py) only with ``rungs``."""
    runs = read_table(study_dir, "runs")
    if stage is not None:
        runs = runs[runs["stage"] == stage].reset_index(drop=True)
    if not rungs:
        runs = runs[~runs["rung"].astype(bool)].reset_index(drop=True)
    if runs.empty and stage != TUNE:
        raise StudyError(f"{Path(study_dir) / 'runs.parquet'} has no runs")
    return runs


def spec_values(runs: pd.DataFrame) -> list[dict]:
    """Each row's run spec (tables.SPEC_COLUMNS, without data_seed) as {dotted key: plain
    Python value}: what the run *is*, not which draw. Nulls become None and list columns
    lists again, so values compare and print as in the config."""
    keys = [c for c in SPEC_COLUMNS if c not in SEED_KEYS]
    columns = {key: [_plain(v) for v in runs[key].astype(object)] for key in keys}
    return [{key: columns[key][i] for key in keys} for i in range(len(runs))]


def _plain(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None  # a null: None in the spec (no config value is NaN: spec.py rejects it)
    return value.item() if isinstance(value, np.generic) else value


def variant_specs(runs: pd.DataFrame) -> dict[tuple[str, str], dict]:
    """(task, variant) -> {config column: value}. All seeds of a variant share it."""
    specs: dict[tuple[str, str], dict] = {}
    names = zip(runs["task"], runs["variant"], strict=True)
    for (task, variant), spec in zip(names, spec_values(runs), strict=True):
        key = (task, variant)
        if key in specs and specs[key] != spec:
            diff = sorted(k for k in spec if specs[key].get(k) != spec.get(k))
            raise StudyError(
                f"variant {variant!r} of task {task!r} has runs with different specs "
                f"(keys {diff}); a variant's seeds must differ only in the seed"
            )
        specs[key] = spec
    return specs


def describe_difference(spec: dict, reference: dict, ignore: set[str]) -> str:
    """'qk_norm=True,norm=rmsnorm': the keys where spec differs from reference ('base': none)."""
    keys = sorted(k for k in set(spec) | set(reference) if k not in ignore)
    parts = [
        f"{k.split('.', 1)[-1]}={spec.get(k)}" for k in keys if spec.get(k) != reference.get(k)
    ]
    return ",".join(parts) or "base"


def reference_variant(variants: list[str], baseline: str = "baseline") -> str:
    """The variant others are compared against: the baseline, else the first name."""
    return baseline if baseline in variants else sorted(variants)[0]
