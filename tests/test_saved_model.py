"""Every run keeps its final model (model.safetensors) and, for text tasks, a few samples;
``ablate.load_run`` reads a run back. None of it changes a number the run records."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from safetensors import safe_open
from safetensors.torch import load, load_file
from tiny_run import tiny_spec

import ablate
import ablate.train.loop as loop
from ablate.data.build import build_task
from ablate.model.transformer import build_model
from ablate.report.page import environment
from ablate.report.samples_section import samples_section
from ablate.spec.config import ModelConfig
from ablate.spec.run_spec import NUMERICS_VERSION, canonical_json, spec_hash
from ablate.store.integrity import verify_run_dir
from ablate.store.tables import MODEL_FILE, TABLES
from ablate.train import sampling
from ablate.train.outputs import Recorder
from ablate.train.saved_model import SavedModelError, load_run, model_bytes

TEXT = "".join(
    f"line {i}: the quick brown fox jumps over the lazy dog {i * i}\n" for i in range(200)
)


def train(tmp_path: Path, name: str, monkeypatch, overrides: dict | None = None, seed: int = 0):
    """Train a tiny run into tmp_path/name, as the workflow leaves it (spec.yaml beside);
    returns (run dir, spec, the trained model and a copy of its state when it was saved)."""
    (tmp_path / "golden.txt").write_text(TEXT)
    overrides = {
        k: str(tmp_path / v) if k == "data.path" else v for k, v in (overrides or {}).items()
    }
    spec = tiny_spec(overrides, seed)
    run_dir = tmp_path / name
    run_dir.mkdir()
    (run_dir / "spec.yaml").write_text(yaml.safe_dump(spec.to_dict(), sort_keys=True))
    seen = {}
    real = loop.save_model_file

    def spy(out, model, spec_):
        seen["model"] = model
        seen["state"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return real(out, model, spec_)

    monkeypatch.setattr(loop, "save_model_file", spy)
    loop.train_run(spec, run_dir, root=tmp_path, log=lambda m: None)
    return run_dir, spec, seen["model"], seen["state"]


TEXT_RUN = {"data.task": "text_file", "data.path": "golden.txt"}


@pytest.mark.parametrize("tie_head", [True, False])
def test_the_file_holds_exactly_the_final_parameters(tmp_path, monkeypatch, tie_head):
    run_dir, spec, model, state = train(tmp_path, "r", monkeypatch, {"model.tie_head": tie_head})
    saved = load_file(run_dir / MODEL_FILE)
    assert set(saved) == set(state) and ("head.weight" in saved) == (not tie_head)
    for name, tensor in state.items():
        assert torch.equal(saved[name], tensor), name  # bit for bit
    with safe_open(str(run_dir / MODEL_FILE), framework="pt") as f:
        meta = f.metadata()
    assert meta["spec_hash"] == spec_hash(spec)
    assert meta["numerics_version"] == str(NUMERICS_VERSION)
    assert meta["spec"] == canonical_json(spec.to_dict())
    # the collect step's torch-free check reads the real file as intact
    verify_run_dir(_as_run_id(run_dir, spec), spec_hash(spec))


def _as_run_id(run_dir: Path, spec) -> Path:
    """The run directory under its run id, as collect finds it."""
    return run_dir.rename(run_dir.with_name(spec_hash(spec)))


def test_load_run_gives_the_trained_model_in_eval_mode(tmp_path, monkeypatch):
    run_dir, spec, trained, _ = train(tmp_path, "r", monkeypatch, TEXT_RUN)
    rng = torch.get_rng_state()
    model, loaded_spec = ablate.load_run(run_dir)
    assert torch.equal(torch.get_rng_state(), rng)  # a notebook's RNG is left alone
    assert loaded_spec == spec and not model.training
    batch = build_task(spec.data, str(tmp_path)).probe_batch()
    trained.eval()
    with torch.no_grad():
        assert torch.equal(model(batch), trained(batch))
    assert ablate.load_run is load_run


def test_a_file_of_another_spec_is_refused(tmp_path, monkeypatch):
    run_dir, spec, _, _ = train(tmp_path, "r", monkeypatch)
    other = tiny_spec(seed=1)
    (run_dir / "spec.yaml").write_text(yaml.safe_dump(other.to_dict(), sort_keys=True))
    with pytest.raises(SavedModelError) as caught:
        load_run(run_dir)
    message = str(caught.value)
    assert str(run_dir / MODEL_FILE) in message
    assert spec_hash(spec) in message and spec_hash(other) in message


def test_a_run_without_its_file_says_why(tmp_path, monkeypatch):
    run_dir, _, _, _ = train(tmp_path, "r", monkeypatch)
    (run_dir / MODEL_FILE).unlink()
    with pytest.raises(FileNotFoundError, match="before runs kept their weights"):
        load_run(run_dir)


def test_a_shared_tensor_is_stored_once_and_loads_back_shared(tmp_path):
    model = build_model(ModelConfig(d_model=8, n_layer=1, n_head=2, vocab_size=11, tie_head=False))
    model.head.weight = model.wte.weight  # one tensor under two names
    data = model_bytes(model, tiny_spec())
    stored = load(data)
    assert "head.weight" not in stored and "wte.weight" in stored
    path = tmp_path / "m.safetensors"
    path.write_bytes(data)
    with safe_open(str(path), framework="pt") as f:
        assert json.loads(f.metadata()["aliases"]) == {"head.weight": "wte.weight"}


def test_text_samples_are_deterministic_valid_text_and_draw_no_global_rng(tmp_path, monkeypatch):
    a, spec, _, _ = train(tmp_path, "a", monkeypatch, TEXT_RUN)
    b, _, _, _ = train(tmp_path, "b", monkeypatch, TEXT_RUN)
    sa, sb = (pd.read_parquet(d / "samples.parquet") for d in (a, b))
    pd.testing.assert_frame_equal(sa, sb, check_exact=True)
    assert list(sa.columns) == list(TABLES["samples"]) and len(sa) == sampling.N_SAMPLES
    task = build_task(spec.data, str(tmp_path))
    vocab = set(task.tokenizer.chars)
    for row in sa.itertuples():
        assert row.prompt == task.decode(task.val[: sampling.PROMPT_TOKENS])
        assert row.n_tokens == sampling.NEW_TOKENS == len(row.text)  # one char per token
        assert set(row.text) <= vocab and row.text.encode("utf-8")
        assert (row.temperature, row.sample_seed) == (sampling.TEMPERATURE, spec.seed)
    assert sa["text"].nunique() > 1  # three draws, not one repeated
    model, _ = load_run(a)
    rng = torch.get_rng_state()
    again = sampling.sample_rows(model, task, spec.seed)
    assert torch.equal(torch.get_rng_state(), rng)
    assert [r["text"] for r in again] == sa["text"].tolist()  # the loaded model, same text


def test_synthetic_runs_write_an_empty_samples_table(tmp_path, monkeypatch):
    run_dir, _, _, _ = train(tmp_path, "r", monkeypatch)
    frame = pd.read_parquet(run_dir / "samples.parquet")
    assert frame.empty and list(frame.columns) == list(TABLES["samples"])


def test_a_checkpoint_from_before_the_samples_table_resumes():
    older = Recorder().columns
    del older["samples"]
    assert Recorder(older).columns["samples"] == {c: [] for c in TABLES["samples"]}


class _Ctx:
    def __init__(self, samples: pd.DataFrame):
        board = pd.DataFrame({"variant": ["b", "a"], "position": [1, 2]})
        self.t = {"samples": samples, "leaderboard": board}


def test_the_report_lists_one_escaped_sample_per_variant():
    rows = [
        ("a", 1, "late"),
        ("a", 0, "<script>alert(1)</script> & co\nnext line"),
        ("b", 0, "bee"),
    ]
    samples = pd.DataFrame(
        [
            {"variant": v, "seed": s, "prompt": "ROMEO:", "text": t, "temperature": 0.8}
            | {"sample_seed": s, "n_tokens": 200}
            for v, s, t in rows
        ]
    )
    blocks = samples_section(_Ctx(samples))
    assert "temperature 0.8" in blocks[0]["text"]
    table = blocks[1]
    assert [r[0]["text"] for r in table["rows"]] == ["b", "a"]  # the leaderboard's order
    html = str(environment().get_template("macros.html.j2").module.block(table))
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co\nnext line" in html
    assert "<script>" not in html and "late" not in html  # lowest seed only
    empty = samples_section(_Ctx(samples.iloc[:0]))
    assert empty[0]["kind"] == "note" and "text tasks only" in empty[0]["text"]
