"""Per-run tables -> study-level Parquet tables under results/<study>/.

Input: the study manifest (which run directories belong to which variant and seed) and
the run directories themselves. Each study table is the concatenation of the runs' tables
with the study columns (tables.STUDY_KEYS) in front; runs.parquet has one row per
(variant, seed, task) with the run's summary. A run shared by two variants appears under
both names.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ablate.tables import RUN_COLUMNS, STUDY_KEYS, SUMMARY, TABLES
from ablate.train.outputs import atomic_write_bytes, write_json


def collect_study(manifest_path: str | Path, runs_dir: str | Path, out_dir: str | Path) -> None:
    manifest = json.loads(Path(manifest_path).read_text())
    runs_dir, out = Path(runs_dir), Path(out_dir)
    rows, parts = [], {name: [] for name in TABLES}
    cache: dict[str, dict[str, pd.DataFrame]] = {}
    for run in manifest["runs"]:
        run_dir = runs_dir / run["run_id"]
        summary = json.loads((run_dir / "summary.json").read_text())
        keys = {k: run[k] for k in STUDY_KEYS}
        rows.append(
            keys
            | {k: run[k] for k in ("group", "overrides", "spec")}
            | {"log": str(run_dir / "train.log")}
            | {k: summary.get(k) for k in SUMMARY}
        )
        if run["run_id"] not in cache:
            cache[run["run_id"]] = {
                name: pd.read_parquet(run_dir / f"{name}.parquet") for name in TABLES
            }
        for name, frame in cache[run["run_id"]].items():
            parts[name].append(frame.assign(**keys)[list(STUDY_KEYS) + list(TABLES[name])])
    columns = list(STUDY_KEYS) + list(RUN_COLUMNS) + list(SUMMARY)
    _write(out / "runs.parquet", pd.DataFrame(rows, columns=columns))
    for name, frames in parts.items():
        cols = list(STUDY_KEYS) + list(TABLES[name])
        table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
        _write(out / f"{name}.parquet", table)
    write_json(
        out / "study.json",
        {
            "study": manifest["study"],
            "config_hash": manifest["config_hash"],
            "baseline": manifest["baseline"],
            "n_runs": len(rows),
            "n_unique_runs": len(cache),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )


def _write(path: Path, frame: pd.DataFrame) -> None:
    atomic_write_bytes(path, frame.to_parquet(index=False))
