"""Per-run tables -> study-level Parquet tables under results/<study>/.

Input: the study manifest (which run directories belong to which variant and seed, and
the study's status rules) and the run directories themselves. Each run is judged here
(probes/status.py): a run records only what it measured, so a new rule or threshold
re-judges every run without retraining. Each study table is the concatenation of the
runs' tables with the study columns (tables.STUDY_KEYS) in front; runs.parquet has one
row per (variant, seed, task) with the run's summary, status, derived columns
(tables.DERIVED: FLOPs from the spec) and its spec as typed flat columns
(tables.SPEC_COLUMNS). A run shared by two variants appears under both names. A tuning
run (stage "tune": study/tuning.py) and a ladder's extra rung (study/ladder.py) have their
row in runs.parquet and nothing in the other tables, which hold the comparison's runs only.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ablate.model.params import flops_per_token
from ablate.probes.status import judge, last_head_entropy
from ablate.spec.config import StatusRules
from ablate.spec.run_spec import RunSpec
from ablate.spec.stages import COMPARE
from ablate.spec.task_lengths import train_seq_len
from ablate.store.atomic import write_arrow, write_json, write_parquet
from ablate.store.integrity import RunDirError, verify_run_dir
from ablate.store.spec_columns import spec_column_types
from ablate.store.tables import (
    JUDGED,
    STUDY_KEYS,
    SUMMARY,
    TABLES,
    study_columns,
)


def collect_study(manifest_path: str | Path, runs_dir: str | Path, out_dir: str | Path) -> None:
    manifest = json.loads(Path(manifest_path).read_text())
    rules = StatusRules(**manifest["status_rules"])
    runs_dir, out = Path(runs_dir), Path(out_dir)
    damaged, verified = [], {}  # every damaged run at once: one round of recomputing
    for run_id in dict.fromkeys(run["run_id"] for run in manifest["runs"]):
        try:
            verified[run_id] = verify_run_dir(runs_dir / run_id, run_id)
        except RunDirError as error:
            damaged.append(str(error))
    if damaged:
        raise RunDirError("\n".join(damaged))
    rows, parts = [], {name: [] for name in TABLES}
    cache: dict[str, tuple[dict, dict[str, pd.DataFrame]]] = {}
    for run in manifest["runs"]:
        run_dir = runs_dir / run["run_id"]
        if run["run_id"] not in cache:
            cache[run["run_id"]] = read_run(run_dir, rules, verified.pop(run["run_id"]))
        summary, tables = cache[run["run_id"]]
        spec = RunSpec.from_dict(run["spec"])
        keys = {k: run[k] for k in STUDY_KEYS}
        rows.append(
            keys
            | {k: run[k] for k in ("group", "overrides")}
            | {"stage": run.get("stage", COMPARE), "tuned": run.get("tuned", "")}
            | {"ladder": run.get("ladder", ""), "rung": bool(run.get("rung", False))}
            | {"log": str(run_dir / "train.log")}
            | {k: summary.get(k) for k in (*JUDGED, *SUMMARY)}
            | derived(spec, summary)
            | spec.flat()
        )
        if run.get("stage", COMPARE) != COMPARE or run.get("rung"):
            continue  # a tuning run or a ladder's rung: runs.parquet only
        for name, frame in tables.items():
            parts[name].append(frame.assign(**keys)[study_columns(name)])
    write_arrow(out / "runs.parquet", runs_table(rows))
    for name, frames in parts.items():
        empty = pd.DataFrame(columns=study_columns(name))
        # a run's empty table (a synthetic run's samples) has untyped columns: left in, it
        # would turn the others' int columns into floats
        frames = [frame for frame in frames if len(frame)]
        table = pd.concat(frames, ignore_index=True) if frames else empty
        write_parquet(out / f"{name}.parquet", table)
    write_json(
        out / "study.json",
        {
            "study": manifest["study"],
            "config_hash": manifest["config_hash"],
            "baseline": manifest["baseline"],
            "status_rules": manifest["status_rules"],
            "tune": manifest.get("tune"),
            # the reference files of the study's data configs, read by the analysis
            "references": manifest.get("references", []),
            "n_runs": len(rows),
            "n_unique_runs": len(cache),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )


def derived(spec: RunSpec, summary: dict) -> dict:
    """tables.DERIVED: what follows from the spec and the summary by formula. The ``flops``
    an older run stored in its summary.json (6 N tokens, no attention) is not used."""
    per_token = flops_per_token(spec.model, train_seq_len(spec.data))
    return {"flops": per_token * summary["tokens"]}


def runs_table(rows: list[dict]) -> pa.Table:
    """runs.parquet's rows with the spec columns in their stated types (tables.py), so a
    column's type does not depend on its values (all None, or all empty lists)."""
    frame = pd.DataFrame(rows, columns=study_columns("runs"))
    types = spec_column_types()
    for name, (kind, nullable) in types.items():
        if kind == "int64" and nullable:  # recorded as Int64: pandas reads None back as <NA>
            frame[name] = frame[name].astype("Int64")
    schema = pa.Schema.from_pandas(frame, preserve_index=False)
    for name, (kind, _) in types.items():
        schema = schema.set(schema.get_field_index(name), pa.field(name, _arrow_type(kind)))
    return pa.Table.from_pandas(frame, schema=schema, preserve_index=False)


def _arrow_type(kind: str) -> pa.DataType:
    """'int64', 'double', 'bool', 'string' or 'list<int64>' (spec_columns.PARQUET_TYPES)."""
    if kind.startswith("list<"):
        return pa.list_(_arrow_type(kind[len("list<") : -1]))
    return pa.type_for_alias(kind)


def read_run(
    run_dir: Path, rules: StatusRules, read: dict | None = None
) -> tuple[dict, dict[str, pd.DataFrame]]:
    """A run's summary, with its judged status, and its tables with the judged columns.
    ``read``: its Parquet tables as verify_run_dir returned them, if already read."""
    summary = json.loads((run_dir / "summary.json").read_text())
    read = read or {name: pq.read_table(run_dir / f"{name}.parquet") for name in TABLES}
    tables = {name: read[name].to_pandas() for name in TABLES}
    steps, probes = tables["steps"], tables["probes"]
    head_entropy = last_head_entropy(probes)
    verdict = judge(
        summary,
        steps["loss"].tolist(),
        steps["grad_norm"].tolist(),
        head_entropy,
        int(probes["step"].max()) if len(probes) else 0,
        rules,
    )
    tables["steps"] = steps.assign(loss_spike=verdict.loss_spike, grad_spike=verdict.grad_spike)
    judged = {
        "status": verdict.outcome.status,
        "reason": verdict.outcome.reason,
        "status_step": verdict.outcome.step,
        "n_loss_spikes": sum(verdict.loss_spike),
        "n_grad_spikes": sum(verdict.grad_spike),
    }
    return summary | judged, tables
