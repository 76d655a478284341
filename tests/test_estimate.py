"""`ablate estimate`: the cost fit, the schedule simulation, the dry-run line, end to end."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ablate.estimate import calibration
from ablate.estimate.calibration_fit import EVAL, PROBE, STEP, fit_costs
from ablate.estimate.cost import CONSERVATIVE, Costs, features, run_work
from ablate.estimate.makespan import rate, simulate
from ablate.estimate.prediction import _job_counts, _train_runs, estimate, pending_by_files
from ablate.spec.run_spec import resolve_spec
from ablate.study.expand import expand_study, load_config

ROOT = Path(__file__).resolve().parents[1]
KNOWN = Costs(
    run=2.5,
    text_bytes=5e-8,
    steps=4e-3,
    step_layers=1.5e-3,
    train_flops=2e-11,
    eval_batches=1e-3,
    eval_batch_layers=5e-4,
    eval_flops=3e-11,
    probes=8e-3,
    probe_layers=2e-3,
)


def shape_spec(d, layers, batch, seq_len, steps):
    sections = {
        "model": {"d_model": d, "n_layer": layers, "n_head": 2, "context": 4 * seq_len},
        "train": {"steps": steps, "batch_size": batch, "warmup_steps": 1, "eval_every": 10},
        "data": {"task": "induction", "seq_len": seq_len, "vocab": 32, "eval_multipliers": [2]},
    }
    return resolve_spec(sections, seed=0)


def synthetic_sample(spec, noise, rng) -> dict:
    """The timings calibration would measure for this run if KNOWN were the truth."""
    f = features(run_work(spec))

    def part(names):
        return sum(getattr(KNOWN, n) * f[n] for n in names) * (1 + noise * rng.uniform(-1, 1))

    return {"features": f, "train_s": part(STEP), "eval_s": part(EVAL), "probe_s": part(PROBE)}


@pytest.mark.parametrize("noise, tolerance", [(0.0, 1e-6), (0.02, 0.15)])
def test_fit_recovers_known_components_from_synthetic_timings(noise, tolerance):
    rng = random.Random(0)
    shapes = [(16, 1, 8, 32, 40), (32, 4, 8, 32, 30), (64, 2, 32, 64, 30), (128, 1, 32, 64, 12)]
    warm = [synthetic_sample(shape_spec(*s), noise, rng) for s in shapes]
    cold_spec = shape_spec(16, 1, 8, 32, 10)
    cold = synthetic_sample(cold_spec, 0.0, rng)
    warm_start, ablate_import = 0.1, 0.25  # a job's own process, then ablate's modules
    cold["wall_s"] = KNOWN.run - warm_start - ablate_import
    cold["wall_s"] += cold["train_s"] + cold["eval_s"] + cold["probe_s"]
    # the study steps: collect grows by 0.5 s a run; the report (measured at 5 runs only)
    # is a fixed 4 s whatever the number of runs
    study_s = {"2": {"collect": 1.0}, "5": {"collect": 2.5, "report": 4.0}}
    measured = {
        "warm": warm,
        "cold": cold,
        "startup_s": 4.0,
        "ablate_import_s": ablate_import,
        "text_byte_s": 5e-8,
        "step_s": 0.03,
        "shared_step_s": [0.04, 0.04],
        "study_s": study_s,
    }
    costs = fit_costs(measured, warm_start)
    assert costs.contention == pytest.approx(0.75)
    assert costs.run == pytest.approx(KNOWN.run, rel=tolerance)
    assert costs.cold_start == 4.0
    assert costs.study_seconds(5) == pytest.approx(6.5)  # what was measured at 5 runs
    assert costs.study_seconds(2) == pytest.approx(4.0 + 1.0)
    assert costs.study_seconds(75) == pytest.approx(4.0 + 0.5 * 75)
    # the terms that carry most of each component's time are recovered
    for name in ("steps", "train_flops", "eval_flops", "probes", "probe_layers"):
        assert getattr(costs, name) == pytest.approx(getattr(KNOWN, name), rel=tolerance), name
    # and, above all, the seconds of runs it never saw
    for s in [shape_spec(48, 3, 16, 64, 200), shape_spec(96, 2, 32, 32, 500)]:
        work = run_work(s)
        assert costs.solo_seconds(work) == pytest.approx(
            KNOWN.solo_seconds(work), rel=tolerance / 3
        )


def test_fit_never_makes_a_component_negative():
    rng = random.Random(1)
    shapes = [(16, 1, 8, 32, 40), (32, 4, 8, 32, 30), (64, 2, 32, 64, 30), (128, 1, 32, 64, 12)]
    warm = [synthetic_sample(shape_spec(*s), 0.0, rng) for s in shapes]
    for sample in warm:  # probes cost a constant only, with jitter: no per-layer term
        sample["probe_s"] = 0.01 * sample["features"]["probes"] * (1 + 0.05 * rng.uniform(-1, 1))
    cold = dict(warm[0], wall_s=1.0)
    measured = {"warm": warm, "cold": cold, "startup_s": 1.0, "ablate_import_s": 0.2}
    measured |= {"text_byte_s": 0.0, "step_s": 0.03, "shared_step_s": [0.03]}
    # a study of 5 runs measured faster than one of 2 (noise): no negative cost per run
    measured["study_s"] = {"2": {"collect": 1.0}, "5": {"collect": 0.9, "report": 2.0}}
    costs = fit_costs(measured, 0.1)
    assert costs.study_run_s == 0 and costs.study_s == pytest.approx(2.9)
    assert all(getattr(costs, n) >= 0 for n in (*STEP, *EVAL, *PROBE))
    assert costs.probes == pytest.approx(0.01, rel=0.1)


def test_schedule_matches_hand_computed_makespans():
    # two slots, two cores: 4 and 3 start; 2 starts at 3; 1 starts at 4; both end at 5
    assert simulate([4, 3, 2, 1], jobs=2, cores=2) == (5, [4, 3, 2, 1])
    # four jobs on two cores: each at half speed, all end at 4
    assert simulate([2, 2, 2, 2], jobs=4, cores=2)[0] == pytest.approx(4)
    # one core shared by two: the short job ends at 2, the long one alone from then on, at 4
    makespan, walls = simulate([3, 1], jobs=2, cores=1)
    assert makespan == pytest.approx(4) and walls == pytest.approx([4, 2])
    # both cores busy at contention 0.5: each job at half speed
    assert simulate([1, 1], jobs=2, cores=2, contention=0.5)[0] == pytest.approx(2)
    # one slot: the sum, whatever the cores
    assert simulate([1, 2, 3], jobs=1, cores=8)[0] == pytest.approx(6)
    assert rate(1, 2, 0.5) == 1.0 and rate(8, 2, 1.0) == 0.25


def test_dry_run_output_is_read_as_snakemake_prints_it():
    text = """
rule train:
    input: results/runs/0123456789abcdef/spec.yaml
    wildcards: run=0123456789abcdef
localrule references:
    wildcards: key=fedcba9876543210
Job stats:
job           count
----------  -------
references        1
train             1
total             2

Reasons:
"""
    assert _train_runs(text) == {"0123456789abcdef"}
    assert _job_counts(text) == {"references": 1, "train": 1}


def test_estimate_scales_with_work_and_cores(tmp_path):
    runs = expand_study(load_config(ROOT / "config" / "tiny.yaml"))
    plan = pending_by_files(runs, tmp_path, "results/tiny")
    assert len(plan.train) == len(runs) == plan.jobs["train"]
    one = estimate(runs, plan, KNOWN, jobs=1, cores=2, root=tmp_path, parse_s=1.0)
    two = estimate(runs, plan, KNOWN, jobs=2, cores=2, root=tmp_path, parse_s=1.0)
    four = estimate(runs, plan, KNOWN, jobs=4, cores=2, root=tmp_path, parse_s=1.0)
    # one job slot: the runs one after another
    assert one["train_seconds"] == pytest.approx(sum(one["per_run_alone"].values()), abs=0.1)
    assert two["train_seconds"] < 0.6 * one["train_seconds"]
    assert four["train_seconds"] == pytest.approx(two["train_seconds"], rel=0.05)
    assert one["runs"] == 8 and one["cached"] == 0


def test_conservative_costs_ask_more_than_a_calibration():
    spec = shape_spec(64, 2, 32, 64, 250)
    assert CONSERVATIVE.solo_seconds(run_work(spec)) > 5 * KNOWN.solo_seconds(run_work(spec))


def _subprocess(code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True
    )


def test_dry_run_line_never_calibrates_nor_imports_torch(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code = f"""
import sys
from ablate.study.expand import expand_study, load_config
from ablate.estimate.prediction import dry_run_line
runs = expand_study(load_config({str(ROOT / "config" / "tiny.yaml")!r}))
print(dry_run_line(runs, "results/tiny", 4, "config/tiny.yaml"))
assert "torch" not in sys.modules, "the parse-time path imported torch"
"""
    done = _subprocess(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "no calibration for this machine yet" in done.stdout
    assert "ablate estimate config/tiny.yaml --cores 4" in done.stdout
    assert not (tmp_path / "results").exists()  # nothing measured, nothing written
    assert not (tmp_path / "cache").exists()
    calibration.save(KNOWN, {"cores": 2})
    done = _subprocess(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("estimate: 8 runs, 0 cached, 8 to train: ~")


@pytest.mark.slow
def test_estimate_json_on_the_tiny_study_before_and_after_it_runs(tmp_path, monkeypatch):
    """cached 0 before, all after a real run of the tiny study, as Snakemake decides."""
    config = yaml.safe_load((ROOT / "config" / "tiny.yaml").read_text())
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    calibration.save(KNOWN, {"cores": 2})  # calibrating is tested on its own
    env = os.environ | {"PYTHONPATH": str(ROOT / "src")}

    def ablate_estimate() -> dict:
        cmd = [sys.executable, "-m", "ablate", "estimate", "config.yaml", "--cores", "2", "--json"]
        done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    before = ablate_estimate()
    assert (before["runs"], before["cached"], before["cached_by"]) == (8, 0, "snakemake -n")
    assert before["total_seconds"] > before["train_seconds"] > 0
    assert set(before["per_run"]) == {r.run_id for r in expand_study(config)}
    snakemake = [sys.executable, "-m", "snakemake", "--cores", "2", "-s", str(ROOT / "Snakefile")]
    done = subprocess.run(snakemake, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    written = json.loads((tmp_path / "results" / "tiny" / "estimate.json").read_text())
    assert (written["runs"], written["cached"]) == (8, 0)  # made before the runs trained
    after = ablate_estimate()
    assert (after["runs"], after["cached"], after["to_train"]) == (8, 8, 0)
    assert after["total_seconds"] < 5  # only Snakemake's own start is left
