"""Cluster resource estimates of a run (ablate.estimate.job_resources): safe, monotone, no torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ablate.estimate import job_resources
from ablate.estimate.cost import CONSERVATIVE, run_work
from ablate.estimate.job_resources import (
    MIN_RUNTIME_MIN,
    SAFETY,
    memory_mb,
    run_seconds,
    runtime_minutes,
)
from ablate.spec.run_spec import resolve_spec
from ablate.study.expand import expand_study, load_config

TINY = {
    "model": {"d_model": 16, "n_layer": 1, "n_head": 2, "context": 32},
    "train": {"steps": 30, "batch_size": 8, "warmup_steps": 5},
    "data": {"task": "induction", "seq_len": 32, "vocab": 16},
}
# Measured on the 2-core development machine with `ablate train` (one thread): 52 s of
# wall time and 1.3 GB peak RSS. The estimates must not ask for less.
BIG = {
    "model": {"d_model": 256, "n_layer": 4},
    "train": {"steps": 20, "warmup_steps": 5, "batch_size": 32, "eval_every": 10},
    "data": {"task": "induction", "seq_len": 256},
}


@pytest.fixture(autouse=True)
def no_calibration(monkeypatch):
    """Requests from the conservative costs, whatever calibration this checkout has cached."""
    monkeypatch.setattr(job_resources, "_time_model", lambda: (CONSERVATIVE, 1.0))


def spec(sections: dict, **changes) -> dict:
    """A resolved spec from sections, with dotted keys changed (train_steps=...)."""
    sections = {name: dict(values) for name, values in sections.items()}
    for key, value in changes.items():
        section, name = key.split("_", 1)
        sections[section][name] = value
    return resolve_spec(sections, seed=0)


def test_small_runs_get_the_floor_and_retries_double_the_time():
    tiny = spec(TINY)
    assert runtime_minutes(tiny) == MIN_RUNTIME_MIN
    assert [runtime_minutes(tiny, attempt) for attempt in (1, 2, 3)] == [10, 20, 40]
    assert memory_mb(tiny, 2) >= 2 * memory_mb(tiny, 1) - 1


def test_estimates_cover_what_a_large_run_measured():
    big = spec(BIG)
    assert run_seconds(big) > 52
    assert memory_mb(big) > 1300


@pytest.mark.parametrize(
    "change",
    [
        {"train_steps": 300},
        {"train_batch_size": 64},
        {"model_d_model": 512},
        {"model_n_layer": 8},
        {"data_seq_len": 512},
    ],
)
def test_more_work_never_asks_for_less(change):
    base, more = spec(BIG), spec(BIG, **change)
    assert run_seconds(more) > run_seconds(base)
    assert runtime_minutes(more) >= runtime_minutes(base)
    assert memory_mb(more) >= memory_mb(base)


def test_every_run_of_the_shipped_studies_has_sane_requests(repo_root):
    """Under a day and under 16 GB each: what any partition would accept."""
    for path in ["config.yaml", "config/full.yaml", "config/tiny.yaml"]:
        for run in expand_study(load_config(repo_root / path)):
            assert MIN_RUNTIME_MIN <= runtime_minutes(run.spec) < 24 * 60, run.run_id
            assert 1000 <= memory_mb(run.spec) < 16_000, run.run_id


def test_time_comes_from_the_cost_model_and_a_calibration_when_cached(monkeypatch, tmp_path):
    """One model for `ablate estimate` and Slurm: a calibration, SAFETY times, else the
    conservative costs (which ask for more than a fast machine's calibration)."""
    from test_estimate import KNOWN

    from ablate.estimate import calibration

    big = spec(BIG)
    assert run_seconds(big) == pytest.approx(CONSERVATIVE.solo_seconds(run_work(big)))
    monkeypatch.undo()  # the real _time_model again, reading the calibration saved here
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calibration.save(KNOWN, {"cores": 2})
    job_resources._time_model.cache_clear()
    try:
        assert run_seconds(big) == pytest.approx(SAFETY * KNOWN.solo_seconds(run_work(big)))
        assert run_seconds(big) < CONSERVATIVE.solo_seconds(run_work(big))
    finally:
        job_resources._time_model.cache_clear()


def test_imports_no_torch(repo_root):
    """The Snakefile calls these for every run: a no-op rerun must not pay for torch."""
    code = "import sys, ablate.estimate.job_resources; assert 'torch' not in sys.modules"
    env = {"PYTHONPATH": str(repo_root / "src")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
