"""verify_run_dir: an intact run passes; each kind of damage names the run, the file and the fix."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ablate.spec.run_spec import resolve_spec, spec_hash
from ablate.store.integrity import RunDirError, recompute_command, verify_run_dir
from ablate.store.tables import MODEL_FILE, TABLES

SECTIONS = {"model": {"d_model": 16, "n_layer": 1, "n_head": 2}, "data": {"task": "induction"}}


def write_run_dir(runs_dir: Path, seed: int = 0) -> tuple[Path, str]:
    """A run directory as `ablate train` leaves it, built by hand (no training: fast)."""
    spec = resolve_spec(SECTIONS, seed=seed)
    run_id = spec_hash(spec)
    run_dir = runs_dir / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "spec.yaml").write_text(yaml.safe_dump(spec.to_dict(), sort_keys=True))
    (run_dir / "summary.json").write_text(json.dumps({"status": "ok", "steps_done": 2}))
    for name, columns in TABLES.items():
        row = {column: 0 for column in columns}  # one row of the declared columns
        pd.DataFrame([row]).to_parquet(run_dir / f"{name}.parquet", index=False)
    (run_dir / MODEL_FILE).write_bytes(model_file(run_id))
    return run_dir, run_id


def model_file(run_id: str) -> bytes:
    """A safetensors file by hand (no torch): 8-byte little-endian header length, the JSON
    header (this run's hash in its metadata), then the data of its one 4-byte tensor."""
    header = {"__metadata__": {"spec_hash": run_id}}
    header["w"] = {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}
    raw = json.dumps(header).encode()
    return len(raw).to_bytes(8, "little") + raw + bytes(4)


@pytest.fixture
def run(tmp_path, monkeypatch):
    # relative paths, as `ablate collect --runs results/runs` sees them
    monkeypatch.chdir(tmp_path)
    return write_run_dir(Path("results/runs"))


def damage_message(run_dir: Path, run_id: str) -> str:
    with pytest.raises(RunDirError) as caught:
        verify_run_dir(run_dir, run_id)
    message = str(caught.value)
    assert f"run {run_id}" in message
    assert recompute_command(run_dir) in message  # how to redo just this run
    return message


def test_intact_run_passes(run):
    verify_run_dir(*run)


def test_error_is_a_value_error():
    assert issubclass(RunDirError, ValueError)


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is not parquet\n")


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _damaged_page(path: Path) -> None:
    # footer intact, data in the middle overwritten: only reading the data finds it
    data = bytearray(path.read_bytes())
    data[8:40] = b"\xff" * 32
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_truncate, _garbage, _empty, _damaged_page])
@pytest.mark.parametrize("table", list(TABLES))
def test_unreadable_parquet_is_named(run, table, damage):
    run_dir, run_id = run
    damage(run_dir / f"{table}.parquet")
    message = damage_message(run_dir, run_id)
    assert f"{run_dir}/{table}.parquet is not a readable Parquet file" in message


def test_table_without_its_columns_is_named(run):
    run_dir, run_id = run
    pd.DataFrame({"other": [1]}).to_parquet(run_dir / "steps.parquet", index=False)
    message = damage_message(run_dir, run_id)
    assert f"{run_dir}/steps.parquet lacks the column(s) step, loss" in message


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b'{"status": "ok", "steps_do', "is not valid JSON"),  # cut off mid-write
        (b"\x00\x00\x00\x00", "is not valid JSON"),  # zero-filled after a power cut
        (b"\xff\xfe garbage", "is not valid JSON"),
        (b"[1, 2]", "is not a JSON object"),
    ],
)
def test_bad_summary_is_named(run, content, what):
    run_dir, run_id = run
    (run_dir / "summary.json").write_bytes(content)
    assert f"{run_dir}/summary.json {what}" in damage_message(run_dir, run_id)


def test_spec_of_another_run_is_named(run):
    run_dir, run_id = run
    other = resolve_spec(SECTIONS, seed=1)
    (run_dir / "spec.yaml").write_text(yaml.safe_dump(other.to_dict(), sort_keys=True))
    message = damage_message(run_dir, run_id)
    assert f"{run_dir}/spec.yaml hashes to {spec_hash(other)}, not to the run id" in message


@pytest.mark.parametrize(
    ("content", "what"),
    [("model: [unclosed\n", "is not valid YAML"), ("just text\n", "does not hold a spec")],
)
def test_unreadable_spec_is_named(run, content, what):
    run_dir, run_id = run
    (run_dir / "spec.yaml").write_text(content)
    assert f"{run_dir}/spec.yaml {what}" in damage_message(run_dir, run_id)


def _cut_tail(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-2])  # header intact, the last tensor's data short


@pytest.mark.parametrize("damage", [_truncate, _garbage, _empty, _damaged_page, _cut_tail])
def test_unreadable_model_file_is_named(run, damage):
    run_dir, run_id = run
    damage(run_dir / MODEL_FILE)
    message = damage_message(run_dir, run_id)
    wrong = r"is not a safetensors file|has no readable safetensors header|is truncated"
    assert re.search(rf"{run_dir}/{MODEL_FILE} ({wrong})", message), message


def test_model_file_of_another_run_is_named(run):
    run_dir, run_id = run
    (run_dir / MODEL_FILE).write_bytes(model_file("fedcba9876543210"))
    message = damage_message(run_dir, run_id)
    assert f"names spec hash 'fedcba9876543210' in its metadata, not the run id {run_id}" in message


FILES = ["spec.yaml", "summary.json", MODEL_FILE] + [f"{t}.parquet" for t in TABLES]


@pytest.mark.parametrize("name", FILES)
def test_missing_file_is_named(run, name):
    run_dir, run_id = run
    (run_dir / name).unlink()
    assert f"{run_dir}/{name} is missing" in damage_message(run_dir, run_id)


def test_missing_directory_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_dir = Path("results/runs/0123456789abcdef")
    assert f"{run_dir} is missing" in damage_message(run_dir, "0123456789abcdef")


def test_every_problem_is_listed_at_once(run):
    run_dir, run_id = run
    _truncate(run_dir / "steps.parquet")
    _garbage(run_dir / "grads.parquet")
    (run_dir / "summary.json").write_text("{")
    message = damage_message(run_dir, run_id)
    for name in ["steps.parquet", "grads.parquet", "summary.json"]:
        assert f"{run_dir}/{name}" in message
    assert "evals.parquet" not in message  # the intact files are not blamed


def test_other_runs_are_unaffected(run):
    run_dir, run_id = run
    other_dir, other_id = write_run_dir(run_dir.parent, seed=1)
    _garbage(run_dir / "evals.parquet")
    verify_run_dir(other_dir, other_id)
    with pytest.raises(RunDirError, match=run_id):
        verify_run_dir(run_dir, run_id)
