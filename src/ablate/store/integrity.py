"""Is a run directory intact? A check to make before its files are collected into a study.

A run directory ``results/runs/<run_id>/`` is written by ``ablate train`` (every file
atomically, summary.json last), so a normal crash leaves a run either complete or without a
summary.json. What is left to catch is damage from outside: a power cut before the disk
flushed, a full disk, a hand-edited or half-copied directory. Without this check such a run
surfaces as a pyarrow or JSON traceback deep inside `ablate collect`; with it, the error
names the run, the file, what is wrong, and how to recompute just that run.

Pure Python (no torch): it runs in the collect step, on every run of the study. The model
file is checked by its safetensors header alone (an 8-byte little-endian length, then that
many bytes of JSON): present, parseable, this run's, and long enough for the tensors it lists.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from ablate.spec.run_spec import spec_hash
from ablate.store.tables import MODEL_FILE, TABLES

# libyaml's safe loader where PyYAML has it (its wheels do): the same mappings, 10x faster
# on a study's hundreds of spec files; the pure-Python one otherwise
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class RunDirError(ValueError):
    """A damaged run directory. The message names the run, each bad file, and the fix."""


def verify_run_dir(run_dir: Path, expected_id: str) -> dict[str, pa.Table]:
    """Raise RunDirError if run_dir is not a complete, readable run with id expected_id;
    else return its tables, read in full for the check (the caller need not read them again).

    Pass run_dir as Snakemake sees it (``results/runs/<id>``, relative to the workflow
    directory, as `ablate collect` gets it): the fix in the message uses that path.
    Every problem of the run is listed at once, so one recompute fixes them all.
    """
    run_dir = Path(run_dir)
    tables: dict[str, pa.Table] = {}
    if not run_dir.is_dir():
        problems = [f"{run_dir} is missing"]
    else:
        problems = _spec_problems(run_dir, expected_id) + _summary_problems(run_dir)
        problems += _model_problems(run_dir / MODEL_FILE, expected_id)
        for name, columns in TABLES.items():
            table, table_problems = _read_table(run_dir / f"{name}.parquet", columns)
            tables[name] = table
            problems += table_problems
    if problems:
        raise RunDirError(
            f"run {expected_id} is damaged: {'; '.join(problems)}. "
            f"To recompute just this run: {recompute_command(run_dir)} "
            f"(add the --configfile the study was run with, if any)"
        )
    return tables


def recompute_command(run_dir: Path) -> str:
    """The documented way to redo one run.

    Deleting the directory alone is not enough: Snakemake sees the study's tables and report
    still up to date and does nothing, so the run's training (and everything after it) is
    forced. Deleting first means nothing of the damaged run, not even a checkpoint or its
    kept files (train/finished.py), is reused; the parse writes its spec.yaml again.
    """
    return f"rm -rf {run_dir} && snakemake --cores 4 --forcerun {run_dir}/summary.json"


def _spec_problems(run_dir: Path, expected_id: str) -> list[str]:
    path = run_dir / "spec.yaml"
    if not path.is_file():
        return [f"{path} is missing"]
    try:
        spec = yaml.load(path.read_text(), Loader=SAFE_LOADER)
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        return [f"{path} is not valid YAML ({_first_line(error)})"]
    if not isinstance(spec, dict):
        return [f"{path} does not hold a spec mapping (got {type(spec).__name__})"]
    try:
        actual = spec_hash(spec)
    except (TypeError, ValueError) as error:  # e.g. a NaN or a date: not canonical JSON
        return [f"{path} cannot be hashed ({_first_line(error)})"]
    if actual != expected_id:
        # the outputs beside it may come from another spec: nothing here can be trusted
        return [f"{path} hashes to {actual}, not to the run id {expected_id}"]
    return []


def _summary_problems(run_dir: Path) -> list[str]:
    path = run_dir / "summary.json"
    if not path.is_file():
        return [f"{path} is missing"]
    try:
        summary = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return [f"{path} is not valid JSON ({_first_line(error)})"]
    if not isinstance(summary, dict):
        return [f"{path} is not a JSON object (got {type(summary).__name__})"]
    return []


def _model_problems(path: Path, expected_id: str) -> list[str]:
    if not path.is_file():
        return [f"{path} is missing"]
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else -1
        if not 0 < n <= size - 8:  # read no more than the file holds, whatever the length says
            return [f"{path} is not a safetensors file (no header length fits its {size} bytes)"]
        raw = f.read(n)
    try:
        header = json.loads(raw)
        ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"]
        found = (header.get("__metadata__") or {}).get("spec_hash")
    except (ValueError, UnicodeDecodeError, AttributeError, LookupError, TypeError) as error:
        return [f"{path} has no readable safetensors header ({_first_line(error)})"]
    if found != expected_id:  # weights of another spec (or of older numerics) beside this one
        return [f"{path} names spec hash {found!r} in its metadata, not the run id {expected_id}"]
    if 8 + n + max(ends, default=0) > size:
        return [f"{path} is truncated ({size} bytes, its header lists {8 + n + max(ends)})"]
    return []


def _read_table(path: Path, columns: dict[str, str]) -> tuple[pa.Table | None, list[str]]:
    if not path.is_file():
        return None, [f"{path} is missing"]
    try:
        # the whole table, not only the footer: a damaged page in the middle of a file
        # with an intact footer fails only when its data is decoded
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        return None, [f"{path} is not a readable Parquet file ({_first_line(error)})"]
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        return None, [f"{path} lacks the column(s) {', '.join(missing)}"]
    return table, []


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0].rstrip(".") if text else type(error).__name__
