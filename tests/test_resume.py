"""Nothing lost: a killed or interrupted run resumes from its checkpoint and ends with the
same tables, bit for bit, as a run that was never interrupted (timing columns aside)."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from tiny_run import tiny_spec

import ablate.train.loop as loop
from ablate.store.tables import EXECUTION_COLUMNS, SUMMARY, TABLES
from ablate.train.checkpoint import CHECKPOINT
from ablate.train.finished import KEPT
from ablate.train.interrupt import Interrupted
from ablate.train.lock import run_lock

ROOT = Path(__file__).resolve().parents[1]


def make_spec(steps: int = 40, seed: int = 0) -> dict:
    return tiny_spec({"train.steps": steps}, seed)


def assert_same_run(a: Path, b: Path) -> None:
    for name in TABLES:
        fa, fb = pd.read_parquet(a / f"{name}.parquet"), pd.read_parquet(b / f"{name}.parquet")
        keep = [c for c in fa.columns if c not in EXECUTION_COLUMNS]
        pd.testing.assert_frame_equal(fa[keep], fb[keep], check_exact=True)
    sa, sb = (pd.read_json(d / "summary.json", typ="series") for d in (a, b))
    keep = [k for k in SUMMARY if k not in EXECUTION_COLUMNS]
    pd.testing.assert_series_equal(sa[keep], sb[keep], check_exact=True)


def interrupt_at(step: int):
    """A log callback that sends this process SIGTERM when the loop logs ``step``."""

    def log(message: str) -> None:
        if message.startswith(f"step {step}/"):
            signal.raise_signal(signal.SIGTERM)

    return log


def test_sigterm_checkpoints_and_the_rerun_resumes_bit_identically(tmp_path):
    spec = make_spec()
    loop.train_run(spec, tmp_path / "whole", log=lambda m: None)
    with pytest.raises(Interrupted) as stopped:
        loop.train_run(spec, tmp_path / "cut", log=interrupt_at(16), checkpoint_every=1000)
    assert stopped.value.step == 16 and (tmp_path / "cut" / CHECKPOINT).exists()
    assert not (tmp_path / "cut" / "summary.json").exists()
    lines: list[str] = []
    summary = loop.train_run(spec, tmp_path / "cut", log=lines.append)
    assert "resumed from step 16" in "\n".join(lines)
    assert summary["resumed_at"] == "16"
    assert not (tmp_path / "cut" / CHECKPOINT).exists()  # removed once the run is complete
    assert_same_run(tmp_path / "whole", tmp_path / "cut")


def test_checkpoint_of_another_spec_code_version_or_device_is_never_used(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    with pytest.raises(Interrupted):  # leaves a checkpoint of seed 1 in the directory
        loop.train_run(make_spec(seed=1), run_dir, log=interrupt_at(16))
    path = run_dir / CHECKPOINT
    foreign = path.read_bytes()
    lines: list[str] = []
    loop.train_run(make_spec(seed=0), run_dir, log=lines.append)  # another spec
    assert "ignoring" in "\n".join(lines) and "resumed" not in "\n".join(lines)
    loop.train_run(make_spec(seed=0), tmp_path / "clean", log=lambda m: None)
    assert_same_run(tmp_path / "clean", run_dir)

    shutil.rmtree(run_dir / KEPT)  # else the finished run's kept files come back (finished.py)
    path.write_bytes(foreign)  # the right spec, but written on another device
    state = torch.load(path, weights_only=True)
    state["identity"]["device"] = "cuda"
    torch.save(state, path)
    lines.clear()
    loop.train_run(make_spec(seed=1), run_dir, log=lines.append)
    assert "ignoring" in "\n".join(lines) and "resumed" not in "\n".join(lines)

    path.write_bytes(foreign)  # the right spec and device, but older numerics
    monkeypatch.setattr("ablate.spec.run_spec.NUMERICS_VERSION", 10_000)
    monkeypatch.setattr("ablate.train.checkpoint.NUMERICS_VERSION", 10_000)
    lines.clear()
    loop.train_run(make_spec(seed=1), run_dir, log=lines.append)
    assert "ignoring" in "\n".join(lines) and "resumed" not in "\n".join(lines)

    shutil.rmtree(run_dir / KEPT)
    path.write_bytes(b"\x00garbage")  # torn or foreign bytes: ignored, never fatal
    lines.clear()
    loop.train_run(make_spec(seed=1), run_dir, log=lines.append)
    assert "unreadable" in "\n".join(lines)


def _train_cmd(spec_path: Path, out: Path, every: int) -> list[str]:
    return [sys.executable, "-m", "ablate", "train", "--spec", str(spec_path), "--out", str(out),
            "--checkpoint-every", str(every)]  # fmt: skip


def _env() -> dict:
    return os.environ | {"PYTHONPATH": str(ROOT / "src")}


def _checkpoint_step(path: Path) -> int:
    try:
        return torch.load(path, weights_only=True)["progress"]["step"]
    except Exception:  # being replaced right now
        return -1


def test_sigkill_at_five_random_steps_then_rerun_equals_an_uninterrupted_run(tmp_path):
    """`ablate train` as a real subprocess, killed with SIGKILL five times at random moments
    after a new checkpoint appeared; each rerun must resume from a later step, and the
    finished tables must equal an uninterrupted run's."""
    spec = make_spec(steps=400)
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec.to_dict()))
    rng = random.Random(20261124)
    out, resumed = tmp_path / "killed", []
    for _ in range(5):
        proc = subprocess.Popen(_train_cmd(spec_path, out, 7), env=_env(), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
        before = _checkpoint_step(out / CHECKPOINT) if (out / CHECKPOINT).exists() else 0
        deadline = time.monotonic() + 60
        while _checkpoint_step(out / CHECKPOINT) <= before and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.05))  # somewhere between two checkpoints
        proc.send_signal(signal.SIGKILL)
        log = proc.communicate()[0]
        assert proc.returncode == -signal.SIGKILL, log
        resumed += [int(line.split()[3]) for line in log.splitlines() if "resumed from" in line]
    done = subprocess.run(_train_cmd(spec_path, out, 7), env=_env(), text=True,
                          capture_output=True)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    resumed += [int(line.split()[3]) for line in done.stdout.splitlines() if "resumed from" in line]
    assert len(resumed) == 5 and resumed[0] > 0 and resumed == sorted(set(resumed)), resumed
    loop.train_run(spec, tmp_path / "whole", log=lambda m: None)
    assert_same_run(tmp_path / "whole", out)


def test_sigterm_to_the_process_checkpoints_and_exits_nonzero_within_seconds(tmp_path):
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(make_spec(steps=5000).to_dict()))
    out = tmp_path / "run"
    proc = subprocess.Popen(_train_cmd(spec_path, out, 50), env=_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    deadline = time.monotonic() + 60
    while _checkpoint_step(out / CHECKPOINT) < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    log = proc.communicate(timeout=30)[0]
    assert time.monotonic() - sent < 5
    assert proc.returncode == 128 + signal.SIGTERM, log
    assert "interrupted: SIGTERM at step" in log and "Traceback" not in log
    step = int(log.split("interrupted: SIGTERM at step ")[1].split(":")[0])
    assert _checkpoint_step(out / CHECKPOINT) == step  # the checkpoint of that very step


def test_a_second_trainer_of_the_same_run_refuses_with_one_clear_line(tmp_path):
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(make_spec().to_dict()))
    out = tmp_path / "run"
    with run_lock(out):  # as if another process were training it
        done = subprocess.run(_train_cmd(spec_path, out, 10), env=_env(), text=True,
                              capture_output=True)  # fmt: skip
    assert done.returncode == 75
    assert "being trained by another process" in done.stderr and str(os.getpid()) in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (out / "summary.json").exists()
