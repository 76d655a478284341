"""The tiny study through the real Snakemake: outputs, caching, incremental reruns, errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")

pytestmark = pytest.mark.slow


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [str(SNAKEMAKE), "-s", str(ROOT / "Snakefile"), "--directory", str(workdir)]
    env = os.environ | {"PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(cmd + list(args), capture_output=True, text=True, env=env)


def write_config(workdir: Path, config: dict) -> None:
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def train_jobs(dry_run_output: str) -> int:
    """Number of `train` jobs in a dry run's job-count table."""
    match = re.search(r"^train\s+(\d+)\s*$", dry_run_output, re.MULTILINE)
    return int(match.group(1)) if match else 0


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("study")
    config = yaml.safe_load((ROOT / "config" / "tiny.yaml").read_text())
    write_config(workdir, config)
    result = snakemake(workdir, "--cores", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    return workdir, config


def test_study_writes_tables_and_report(study):
    workdir, config = study
    runs = pd.read_parquet(workdir / "results" / "tiny" / "runs.parquet")
    n_variants = 4  # baseline, n_head=1, size/d_model=8, size/d_model=24
    assert len(runs) == n_variants * len(config["seeds"])
    assert set(runs["status"]) <= {"ok", "diverged", "stalled", "unstable", "collapsed"}
    assert (runs["steps_done"] > 0).all()
    # the study tables are plain Parquet: pyarrow and duckdb read them as pandas does
    import duckdb
    import pyarrow.parquet as pq

    path = workdir / "results" / "tiny" / "runs.parquet"
    assert pq.read_table(path).num_rows == len(runs)
    assert duckdb.sql(f"select count(*) from '{path}'").fetchall()[0][0] == len(runs)
    steps = pd.read_parquet(workdir / "results" / "tiny" / "steps.parquet")
    assert len(steps) == runs["steps_done"].sum()
    for name in ["evals", "grads", "probes", "attn_maps"]:
        assert len(pd.read_parquet(workdir / "results" / "tiny" / f"{name}.parquet")) > 0
    html = (workdir / "reports" / "tiny.html").read_text()
    assert "<html" in html.lower() and "vega" in html.lower()
    # every run directory holds the spec that produced it, and its hash is its name
    for run_dir in (workdir / "results" / "runs").iterdir():
        spec = yaml.safe_load((run_dir / "spec.yaml").read_text())
        from ablate.spec import spec_hash

        assert spec_hash(spec) == run_dir.name
        assert json.loads((run_dir / "summary.json").read_text())["status"]


def test_second_run_does_nothing(study):
    workdir, _ = study
    result = snakemake(workdir, "--cores", "2")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


def test_one_more_seed_schedules_one_train_job_per_variant(study):
    workdir, _ = study
    result = snakemake(workdir, "-n", "--config", "seeds=[0,1,2]")
    assert result.returncode == 0, result.stderr
    assert train_jobs(result.stdout + result.stderr) == 4


def test_changed_variant_trains_only_its_runs(study, tmp_path):
    workdir, config = study
    before = {
        p.parent.name: p.stat().st_mtime_ns
        for p in (workdir / "results" / "runs").glob("*/summary.json")
    }
    changed = json.loads(json.dumps(config))
    changed["ablations"]["model.n_head"] = [4]  # replaces variant n_head=1
    write_config(workdir, changed)
    try:
        dry = snakemake(workdir, "-n")
        assert train_jobs(dry.stdout + dry.stderr) == len(config["seeds"])
        result = snakemake(workdir, "--cores", "2")
        assert result.returncode == 0, result.stdout + result.stderr
        after = {
            p.parent.name: p.stat().st_mtime_ns
            for p in (workdir / "results" / "runs").glob("*/summary.json")
        }
        assert len(after) == len(before) + len(config["seeds"])
        assert all(after[k] == v for k, v in before.items())  # nothing retrained
        # reverting reruns no training at all
        write_config(workdir, config)
        dry = snakemake(workdir, "-n")
        assert train_jobs(dry.stdout + dry.stderr) == 0
    finally:
        write_config(workdir, config)


@pytest.mark.parametrize(
    ("patch", "needle"),
    [
        ({"base": {"model": {"d_modle": 16}}}, "d_modle"),
        ({"base": {"model": {"d_model": 15, "n_head": 2}}}, "d_model=15"),
    ],
)
def test_bad_config_fails_before_any_job(study, patch, needle):
    workdir, config = study
    bad = json.loads(json.dumps(config))
    for section, values in patch["base"].items():
        bad["base"][section].update(values)
    snapshot = sorted(
        (str(p), p.stat().st_mtime_ns) for p in (workdir / "results").rglob("*") if p.is_file()
    )
    write_config(workdir, bad)
    try:
        result = snakemake(workdir, "--cores", "2")
    finally:
        write_config(workdir, config)
    assert result.returncode != 0
    assert needle in result.stdout + result.stderr
    after = sorted(
        (str(p), p.stat().st_mtime_ns) for p in (workdir / "results").rglob("*") if p.is_file()
    )
    assert after == snapshot


def test_configfile_replaces_config_yaml_instead_of_merging(study, tmp_path):
    """--configfile names another study; none of config.yaml's variants leak into it."""
    workdir, config = study
    other = {k: v for k, v in config.items() if k not in ("ablations", "grids")}
    other |= {"study": "other", "seeds": [5]}
    path = tmp_path / "other.yaml"
    path.write_text(yaml.safe_dump(other))
    result = snakemake(workdir, "-n", "--configfile", str(path))
    assert result.returncode == 0, result.stderr
    # the baseline with seed 5 only; merged, the tiny study's 3 other variants would come too
    assert train_jobs(result.stdout + result.stderr) == 1
    assert "reports/other.html" in result.stdout + result.stderr
