"""Reading a study directory: the Parquet tables named in ablate.tables, checked on the way in.

Analysis and the report read only these files (never the run directories), so an old study
can be re-analysed without training anything. Every table is checked for the columns
tables.py promises, so a stale or hand-edited file fails here with the missing column named
instead of deep inside a groupby.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ablate.tables import study_columns

# run spec fields that name the run rather than its configuration
SEED_KEYS = ("seed", "data_seed")
CONFIG_SECTIONS = ("model", "train", "data")


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


def read_runs(study_dir: str | Path) -> pd.DataFrame:
    runs = read_table(study_dir, "runs")
    if runs.empty:
        raise StudyError(f"{Path(study_dir) / 'runs.parquet'} has no runs")
    return with_config_columns(runs)


def with_config_columns(runs: pd.DataFrame) -> pd.DataFrame:
    """runs with flat `model.<field>`, `train.<field>`, `data.<field>` columns."""
    # shim until flat columns land: build them from the `spec` JSON column when absent
    if any(is_config_column(c) for c in runs.columns) or "spec" not in runs.columns:
        return runs
    flat = pd.DataFrame([flat_spec(s) for s in runs["spec"]], index=runs.index)
    return pd.concat([runs, flat[[c for c in flat.columns if c not in runs.columns]]], axis=1)


def is_config_column(name: str) -> bool:
    return name.split(".", 1)[0] in CONFIG_SECTIONS and "." in name


def flat_spec(spec_json: str) -> dict:
    """A run spec as {dotted key: value} without the seeds: what the run *is*, not which draw."""
    spec = json.loads(spec_json)
    flat = {}
    for section, values in spec.items():
        if section in SEED_KEYS:
            continue
        if isinstance(values, dict):
            for key, value in values.items():
                flat[f"{section}.{key}"] = value
        else:
            flat[section] = values
    return flat


def _plain(value):
    """A config value comparable across rows: NaN (a None that went through Parquet) -> None."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, list | tuple | np.ndarray):  # e.g. data.eval_multipliers
        return [_plain(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


def variant_specs(runs: pd.DataFrame) -> dict[tuple[str, str], dict]:
    """(task, variant) -> {config column: value}. All seeds of a variant share it."""
    runs = with_config_columns(runs)
    columns = [c for c in runs.columns if is_config_column(c)]
    specs: dict[tuple[str, str], dict] = {}
    for row in runs[["task", "variant", *columns]].itertuples(index=False, name=None):
        spec = {c: _plain(v) for c, v in zip(columns, row[2:], strict=True)}
        key = (row[0], row[1])
        if key in specs and specs[key] != spec:
            diff = sorted(k for k in spec if specs[key].get(k) != spec.get(k))
            raise StudyError(
                f"variant {row[1]!r} of task {row[0]!r} has runs with different specs "
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
