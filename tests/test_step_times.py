"""The estimate's measured step times: what decides a step shape, how a measured step
prices a run, and that a machine measures each shape once."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from test_estimate import KNOWN

from ablate.estimate import step_times
from ablate.estimate.cost import run_work
from ablate.estimate.prediction import solo_seconds
from ablate.spec.run_spec import resolve_spec
from ablate.study.expand import expand_study, load_config

ROOT = Path(__file__).resolve().parents[1]
COSTS = dataclasses.replace(KNOWN, contention=0.8)  # test_estimate's known costs


def spec(model=None, train=None, data=None, seed=0):
    sections = {
        "model": {"d_model": 32, "n_layer": 1, "n_head": 2, "context": 64} | (model or {}),
        "train": {"steps": 40, "batch_size": 8, "warmup_steps": 2} | (train or {}),
        "data": {"task": "induction", "seq_len": 32, "vocab": 16} | (data or {}),
    }
    return resolve_spec(sections, seed=seed)


def test_a_step_shape_ignores_what_costs_no_time_and_keeps_what_does():
    base = step_times.step_key(spec())
    same = [
        spec(seed=3),
        spec(train={"lr": 0.01, "steps": 400, "warmup_steps": 7, "eval_every": 5}),
        spec(train={"weight_decay": 0.0, "probe_every": 3, "eval_batches": 2}),
    ]
    assert all(step_times.step_key(s) == base for s in same)
    other = [
        spec(model={"d_model": 64}),
        spec(model={"pos": "rope"}),
        spec(model={"n_layer": 2}),
        spec(train={"batch_size": 16}),
        spec(train={"precision": "bf16"}),
        spec(data={"seq_len": 64}),
        spec(data={"task": "copy", "length": 8}),
    ]
    keys = {step_times.step_key(s) for s in other}
    assert base not in keys and len(keys) == len(other)


def test_a_measured_step_replaces_the_models_price_of_a_step():
    s = spec(train={"steps": 100})
    work = run_work(s)
    modelled = COSTS.solo_seconds(work)
    assert solo_seconds(COSTS, s, None) == pytest.approx(modelled)
    # the rest of the run as the model prices it, plus 100 steps of 0.05 s measured with
    # every core busy (x contention: alone)
    rest = modelled - (
        COSTS.steps * 100 + COSTS.step_layers * 100 + COSTS.train_flops * work.train_flops
    )
    assert solo_seconds(COSTS, s, 0.05) == pytest.approx(rest + 100 * 0.05 * 0.8)
    assert rest > 0 and solo_seconds(COSTS, s, 0.05) != pytest.approx(modelled)


def test_each_step_shape_is_measured_once_per_machine(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    runs = expand_study(load_config(ROOT / "config" / "tiny.yaml"))
    shapes = {step_times.step_key(r.spec) for r in runs}
    assert 1 < len(shapes) < len(runs)  # seeds share a shape
    assert step_times.for_runs(runs) == {}  # nothing measured yet, and nothing measures
    measured = step_times.for_runs(runs, measure=runs, root=ROOT, log=lambda _: None)
    assert set(measured) == {r.run_id for r in runs}
    assert all(0 < s < 5 for s in measured.values())
    assert len(step_times.load()) == len(shapes)
    # the same shapes again: read from the cache, never measured
    monkeypatch.setattr(step_times, "_measure", lambda *a: pytest.fail("measured twice"))
    assert step_times.for_runs(runs, measure=runs, log=lambda _: None) == measured
    # a wider model of the same study is a new shape: only it is measured
    wide = dataclasses.replace(
        runs[0].spec, model=dataclasses.replace(runs[0].spec.model, d_model=48)
    )
    calls = []
    monkeypatch.setattr(
        step_times, "_measure", lambda specs, *a: calls.append(specs) or dict.fromkeys(specs, 0.01)
    )
    new = dataclasses.replace(runs[0], run_id="f" * 16, spec=wide)
    both = [*runs, new]
    assert step_times.for_runs(both, measure=both, log=lambda _: None)[new.run_id] == 0.01
    assert [list(c) for c in calls] == [[step_times.step_key(wide)]]
