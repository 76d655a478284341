"""The tiny study through the real Snakemake: outputs, caching, incremental reruns, errors."""

from __future__ import annotations

import json
import os
import re
import shutil
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
    for name in ["evals", "grads", "probes", "attn_maps", "curvature"]:
        assert len(pd.read_parquet(workdir / "results" / "tiny" / f"{name}.parquet")) > 0
    html = (workdir / "reports" / "tiny.html").read_text()
    assert "<html" in html.lower() and "vega" in html.lower()
    # the spec as typed columns, no JSON: each row holds its run's spec.yaml
    from ablate.analysis.load import spec_values
    from ablate.spec.config import SECTIONS

    assert "spec" not in runs.columns
    for run_id, flat in zip(runs["run_id"], spec_values(runs), strict=True):
        spec = yaml.safe_load((workdir / "results" / "runs" / run_id / "spec.yaml").read_text())
        assert flat == {f"{s}.{k}": v for s in SECTIONS for k, v in spec[s].items()}
    # every run directory holds the spec that produced it, and its hash is its name
    for run_dir in (workdir / "results" / "runs").iterdir():
        spec = yaml.safe_load((run_dir / "spec.yaml").read_text())
        from ablate.spec.run_spec import spec_hash

        assert spec_hash(spec) == run_dir.name
        summary = json.loads((run_dir / "summary.json").read_text())
        assert 0 < summary["steps_done"] <= config["base"]["train"]["steps"]
        assert not (run_dir / "checkpoint.pt").exists()  # removed once complete


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


def test_new_status_rules_rejudge_every_run_without_training_any(study):
    """The status is judged at collect time: a new threshold reruns collect, not training."""
    workdir, config = study
    stricter = json.loads(json.dumps(config)) | {"status": {"collapse_threshold": 0.9}}
    write_config(workdir, stricter)
    try:
        dry = snakemake(workdir, "-n")
    finally:
        write_config(workdir, config)
    out = dry.stdout + dry.stderr
    assert dry.returncode == 0, out
    assert train_jobs(out) == 0
    assert re.search(r"^collect\s+1\s*$", out, re.MULTILINE), out


def test_numerics_change_makes_runs_stale_and_a_report_change_does_not(study, tmp_path):
    """A copy of the workflow, edited as a developer would, dry-run on the finished study."""
    workdir, _ = study
    repo = tmp_path / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for part in ("src", "workflow", "profiles"):
        if (ROOT / part).exists():
            shutil.copytree(ROOT / part, repo / part, ignore=ignore)
    shutil.copy(ROOT / "Snakefile", repo / "Snakefile")

    def dry_run_train_jobs() -> int:
        cmd = [str(SNAKEMAKE), "-s", str(repo / "Snakefile"), "--directory", str(workdir), "-n"]
        env = os.environ | {"PYTHONPATH": str(repo / "src")}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        return train_jobs(done.stdout + done.stderr)

    report = repo / "src" / "ablate" / "report" / "findings.py"
    report.write_text(report.read_text() + "\n\ndef unused_helper():\n    return 'changed'\n")
    assert dry_run_train_jobs() == 0
    spec_py = repo / "src" / "ablate" / "spec" / "run_spec.py"
    text = spec_py.read_text()
    version = int(re.search(r"^NUMERICS_VERSION = (\d+)$", text, re.MULTILINE).group(1))
    spec_py.write_text(
        text.replace(f"NUMERICS_VERSION = {version}", f"NUMERICS_VERSION = {version + 1}")
    )
    runs = pd.read_parquet(workdir / "results" / "tiny" / "runs.parquet")
    assert dry_run_train_jobs() == runs["run_id"].nunique()


def test_execution_settings_are_not_rerun_triggers(study):
    """Moving a finished study to a GPU, or changing its checkpoint interval, schedules
    no job that the same command without them would not: they reach the jobs through a
    global, not through params, the shell template or the study's config hash."""
    workdir, _ = study

    def scheduled(*config: str) -> list[str]:
        dry = snakemake(workdir, "-n", *(["--config", *config] if config else []))
        assert dry.returncode == 0, dry.stdout + dry.stderr
        out = dry.stdout + dry.stderr
        return sorted(re.findall(r"^rule (\w+):$", out, re.MULTILINE))

    without = scheduled()
    assert "train" not in without
    for setting in ("device=cuda", "checkpoint_every=7", "gpu_share=3"):
        assert scheduled(setting) == without, setting
