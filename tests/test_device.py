"""Where a run trains: device resolution, GPU slots, deferred metric reads, out of memory.

The device-agnostic parts run on the CPU; tests marked `gpu` cover the CUDA path and skip
cleanly without CUDA.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from tiny_run import tiny_spec

import ablate.train.loop as loop
import ablate.train.step as step_module
from ablate.spec.config import StatusRules
from ablate.spec.run_spec import spec_hash
from ablate.store.collect import read_run
from ablate.store.tables import EXECUTION_COLUMNS, TABLES
from ablate.train.device import DeviceUnavailable, resolve_device, slot_for

ROOT = Path(__file__).resolve().parents[1]
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")


def make_spec(**train) -> dict:
    return tiny_spec({f"train.{key}": value for key, value in train.items()})


def tables(run_dir: Path) -> dict[str, pd.DataFrame]:
    out = {}
    for name in TABLES:
        frame = pd.read_parquet(run_dir / f"{name}.parquet")
        out[name] = frame[[c for c in frame.columns if c not in EXECUTION_COLUMNS]]
    return out


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_missing_cuda_fails_before_training_with_one_line_naming_it(tmp_path):
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(make_spec().to_dict()))
    cmd = [sys.executable, "-m", "ablate", "train", "--spec", str(spec_path),
           "--out", str(tmp_path / "run"), "--device", "cuda"]  # fmt: skip
    env = os.environ | {"PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--device cuda" in lines[0] and "available: cpu" in lines[0]
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "run").exists()  # nothing created, not even the lock


def test_auto_trains_on_the_cpu_here_and_records_where(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("auto picks CUDA on this machine")
    assert resolve_device("auto") == "cpu"
    with pytest.raises(DeviceUnavailable, match="unknown"):
        resolve_device("tpu")
    summary = loop.train_run(make_spec(), tmp_path, device="auto", log=lambda m: None)
    assert summary["device"] == "cpu" and summary["device_name"]
    assert summary["dtype"] == "fp32" and summary["torch_version"] == torch.__version__


def test_the_device_is_not_part_of_a_runs_identity():
    """A study moved from a laptop to a GPU cluster reuses its finished runs."""
    spec = make_spec()
    assert spec.device is None and "device" not in spec.to_dict()
    assert spec_hash(spec) == spec_hash(make_spec())


def test_gpu_slots_spread_runs_over_gpus_and_cap_sharing(tmp_path):
    claims = [slot_for(n_gpus=2, per_gpu=2, lock_dir=tmp_path) for _ in range(4)]
    assert [gpu for gpu, _ in claims] == [0, 1, 0, 1]  # one run per GPU before any shares
    os.close(claims[1][1])  # the run on slot 1 (GPU 1) ends: its slot is free again
    gpu, fd = slot_for(n_gpus=2, per_gpu=2, lock_dir=tmp_path)
    assert gpu == 1
    for _, held in [*claims[:1], *claims[2:], (gpu, fd)]:
        os.close(held)


def test_reading_metrics_every_few_steps_changes_no_number(tmp_path, monkeypatch):
    """The GPU path reads per-step metrics in batches; on the CPU, forced to do the same,
    every table must equal the step-by-step reference, and a divergence is still cut at
    the step where it happened."""
    loop.train_run(make_spec(), tmp_path / "every", log=lambda m: None)
    monkeypatch.setitem(loop.SYNC_EVERY, "cpu", 8)
    loop.train_run(make_spec(), tmp_path / "batched", log=lambda m: None)
    reference, batched = tables(tmp_path / "every"), tables(tmp_path / "batched")
    for name in TABLES:
        pd.testing.assert_frame_equal(reference[name], batched[name], check_exact=True)

    calls = {"n": 0}
    real = step_module.masked_loss

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        loss, ce = real(*args, **kwargs)
        return (loss * float("nan"), ce * float("nan")) if calls["n"] == 13 else (loss, ce)

    monkeypatch.setattr(step_module, "masked_loss", poisoned)
    summary = loop.train_run(make_spec(), tmp_path / "nan", log=lambda m: None)
    assert (summary["stopped"], summary["stopped_step"], summary["steps_done"]) == (
        "diverged",
        13,
        13,
    )
    assert pd.read_parquet(tmp_path / "nan" / "steps.parquet")["step"].max() == 13


def test_out_of_memory_ends_the_run_with_its_own_status(tmp_path, monkeypatch):
    calls = {"n": 0}
    real = step_module.masked_loss

    def oom(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 7:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return real(*args, **kwargs)

    monkeypatch.setattr(step_module, "masked_loss", oom)
    summary = loop.train_run(make_spec(), tmp_path, log=lambda m: None)
    assert (summary["stopped"], summary["stopped_step"], summary["steps_done"]) == ("oom", 7, 6)
    judged = read_run(tmp_path, StatusRules())[0]
    assert judged["status"] == "oom" and "out of memory at step 7" in judged["reason"]
    assert (tmp_path / "summary.json").exists()  # a finished run: the study goes on


@pytest.mark.gpu
@needs_cuda
def test_cuda_run_places_everything_on_the_gpu_and_is_deterministic(tmp_path):
    a = loop.train_run(make_spec(), tmp_path / "a", device="cuda", log=lambda m: None)
    b = loop.train_run(make_spec(), tmp_path / "b", device="cuda", log=lambda m: None)
    assert a["device"] == b["device"] == "cuda"
    assert a["device_name"] == torch.cuda.get_device_name()
    ta, tb = tables(tmp_path / "a"), tables(tmp_path / "b")
    for name in TABLES:
        pd.testing.assert_frame_equal(ta[name], tb[name], check_exact=True)


@pytest.mark.gpu
@needs_cuda
def test_cuda_bf16_autocast_runs_matmuls_in_bf16(tmp_path):
    model, _, _, autocast = loop.setup(
        make_spec(precision="bf16"), threads=1, device=torch.device("cuda")
    )
    assert next(model.parameters()).device.type == "cuda"
    with autocast():
        out = model.blocks[0].attn.qkv(torch.randn(2, 4, 16, device="cuda"))
    assert out.dtype == torch.bfloat16
    summary = loop.train_run(
        make_spec(precision="bf16"), tmp_path, device="cuda", log=lambda m: None
    )
    assert summary["dtype"] == "bf16-autocast" and summary["final_train_loss"] < 10


def test_study_device_settings_reach_the_job_but_not_the_run_identity(repo_root):
    """`device`, `gpu_share`, `checkpoint_every` change how runs execute, not which runs
    exist; `device_in_identity` opts in to one run per device."""
    from ablate.study.execution import execution
    from ablate.study.expand import ConfigError, expand_study, load_config

    config = load_config(repo_root / "config" / "tiny.yaml")
    plain = {r.run_id for r in expand_study(config)}
    on_gpu = config | {"device": "cuda", "gpu_share": 4, "checkpoint_every": 50}
    assert {r.run_id for r in expand_study(on_gpu)} == plain
    ex = execution(on_gpu)
    assert ex.gpus == 1 and execution(config).gpus == 0
    assert ex.train_options() == "--device cuda --gpu-share 4 --checkpoint-every 50"
    pinned = expand_study(on_gpu | {"device_in_identity": True})
    assert {r.run_id for r in pinned}.isdisjoint(plain)
    assert all(r.spec.device == "cuda" for r in pinned)
    with pytest.raises(ConfigError, match="device_in_identity=true needs an explicit device"):
        expand_study(config | {"device_in_identity": True})
    with pytest.raises(ConfigError, match="device"):
        expand_study(config | {"device": "gpu"})


def test_a_run_whose_identity_names_a_device_refuses_another(tmp_path):
    spec = dataclasses.replace(make_spec(), device="cuda")
    with pytest.raises(DeviceUnavailable, match="names device 'cuda'"):
        loop.train_run(spec, tmp_path, device="cpu", log=lambda m: None)
