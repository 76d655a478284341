"""The tiny study on a real single-node Slurm through profiles/slurm (issue #9).

Brings up slurmctld, slurmd and munged from Debian packages (tests/slurm_cluster.py; needs
root), runs config/tiny.yaml with `snakemake --profile profiles/slurm`, and checks that the
training runs really were Slurm jobs and that the study's tables equal a local run's.
"""

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

from ablate.estimate.job_resources import runtime_minutes
from ablate.spec.run_spec import RunSpec
from ablate.store.tables import EXECUTION_COLUMNS

sys.path.insert(0, str(Path(__file__).parent))
from slurm_cluster import Cluster, Unavailable, install_packages  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
TIMEOUT_S = 600  # no Snakemake call may hang CI (the plugin can poll a lost job forever)
TABLES = ["runs", "steps", "evals", "grads", "probes", "attn_maps"]
# Columns that differ between two executions of one run, or name a path in the workdir.
NOT_COMPARED = {*EXECUTION_COLUMNS, "log"}

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def unavailable(reason: str) -> None:
    """Skip; but CI must run this test (issue #9), so there a root user fails instead."""
    if os.environ.get("CI") == "true" and os.geteuid() == 0:
        pytest.fail(f"the Slurm test cannot run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def cluster():
    if os.geteuid() != 0:
        pytest.skip("bringing up Slurm needs root (apt-get, daemons, /etc/slurm/slurm.conf)")
    cluster = Cluster()
    try:
        install_packages()
        cluster.start()
    except Unavailable as error:
        unavailable(str(error))
    try:
        yield cluster
    finally:
        cluster.stop()


def snakemake(workdir: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    """Start Snakemake on the repository's workflow in workdir (finish() waits for it)."""
    cmd = [str(SNAKEMAKE), "-s", str(ROOT / "Snakefile"), "--directory", str(workdir), *args]
    env = os.environ | {"PYTHONPATH": str(ROOT / "src")} | (env or {})
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )


def finish(process: subprocess.Popen, context=lambda: "") -> str:
    """Its output once it exits 0; fails the test if it does not, or runs over TIMEOUT_S
    (then it is killed: the Slurm plugin ignores SIGTERM while it polls)."""
    try:
        out, _ = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
        pytest.fail(f"snakemake ran over {TIMEOUT_S} s:\n{out[-5000:]}\n{context()}")
    assert process.returncode == 0, f"{out[-5000:]}\n{context()}"
    return out


@pytest.fixture(scope="module")
def studies(cluster, tmp_path_factory):
    """The tiny study through Slurm, then its tables once more locally. (Run side by side
    the two were slower: two cores are busy either way, and the Slurm jobs then finish
    after the plugin's second status check instead of before it.)"""
    dirs = {name: tmp_path_factory.mktemp(name) for name in ("slurm", "local")}
    for workdir in dirs.values():
        (workdir / "config.yaml").write_text((ROOT / "config" / "tiny.yaml").read_text())
    # the partition comes from the environment, as a user sets it (docs/slurm.md)
    profile = str(ROOT / "profiles" / "slurm")
    slurm = snakemake(dirs["slurm"], "--profile", profile, env={"SBATCH_PARTITION": "debug"})
    slurm_out = finish(slurm, cluster.logs)
    finish(snakemake(dirs["local"], "--cores", "2", "--until", "collect"))
    return dirs, slurm_out


def summaries(workdir: Path) -> dict[str, dict]:
    paths = (workdir / "results" / "runs").glob("*/summary.json")
    return {p.parent.name: json.loads(p.read_text()) for p in paths}


def test_training_ran_as_slurm_jobs(studies, cluster):
    dirs, out = studies
    runs = summaries(dirs["slurm"])
    assert len(runs) == 8, out  # 4 variants x 2 seeds
    job_ids = {run["slurm_job_id"] for run in runs.values()}
    assert "" not in job_ids, out  # every run finished inside a Slurm job
    # the ids Snakemake submitted, and Slurm's own record of them: all completed
    submitted = set(re.findall(r"submitted with SLURM jobid (\d+)", out))
    assert job_ids == submitted, out
    jobs = cluster.jobs()
    assert {jobs.get(i, ("", "unknown to Slurm"))[1] for i in job_ids} == {"COMPLETED"}, jobs
    # --group-components train=4: eight runs in two submissions
    assert len(job_ids) == 2, out
    # only training went to Slurm: the cheap rules are local rules
    assert set(re.findall(r"slurm_logs/(\S+)/\d+\.log", out)) == {"group_train_train"}, out
    assert (dirs["slurm"] / "reports" / "tiny.html").exists()
    # a local run has no Slurm job id
    assert {run["slurm_job_id"] for run in summaries(dirs["local"]).values()} == {""}


def test_time_limit_is_the_sum_of_the_group_s_estimates(studies):
    """The train rule's runtime resource reaches sbatch: a group's runs run in turn, so its
    time limit is the sum of their estimates (ablate.estimate.job_resources)."""
    dirs, _ = studies
    expected: dict[str, int] = {}
    for run_id, summary in summaries(dirs["slurm"]).items():
        spec = RunSpec.from_dict(
            yaml.safe_load((dirs["slurm"] / "results" / "runs" / run_id / "spec.yaml").read_text())
        )
        job = summary["slurm_job_id"]
        expected[job] = expected.get(job, 0) + runtime_minutes(spec)
    for job, minutes in expected.items():
        info = subprocess.run(
            ["scontrol", "show", "job", job], capture_output=True, text=True, check=True
        ).stdout
        assert slurm_minutes(re.search(r"TimeLimit=(\S+)", info).group(1)) == minutes, info


def slurm_minutes(limit: str) -> int:
    """Slurm's time limit text, [D-]HH:MM:SS, in whole minutes."""
    days, _, clock = limit.rpartition("-")
    hours, minutes, _ = map(int, clock.split(":"))
    return int(days or 0) * 24 * 60 + hours * 60 + minutes


def test_tables_equal_a_local_run(studies):
    dirs, _ = studies
    for name in TABLES:
        slurm, local = (
            pd.read_parquet(d / "results" / "tiny" / f"{name}.parquet")
            for d in (dirs["slurm"], dirs["local"])
        )
        assert list(slurm.columns) == list(local.columns), name
        keep = [c for c in local.columns if c not in NOT_COMPARED]
        pd.testing.assert_frame_equal(slurm[keep], local[keep], obj=name)


def test_a_tuned_study_trains_both_stages_as_slurm_jobs(cluster, tmp_path):
    """The tuning checkpoint runs where Snakemake runs; the comparison runs it chooses
    train as Slurm jobs, whose own Snakemake finds them from the choice file."""
    from test_tuning_pipeline import CONFIG

    (tmp_path / "config.yaml").write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    profile = str(ROOT / "profiles" / "slurm")
    out = finish(snakemake(tmp_path, "--profile", profile, env={"SBATCH_PARTITION": "debug"}))
    runs = pd.read_parquet(tmp_path / "results" / "tuned" / "runs.parquet")
    assert sorted(runs["stage"].value_counts().items()) == [("compare", 4), ("tune", 4)]
    done = summaries(tmp_path)
    assert len(done) == 8 and "" not in {r["slurm_job_id"] for r in done.values()}, out
    choice = json.loads((tmp_path / "results" / "tuned" / "tuning" / "choice.json").read_text())
    chosen = {c["variant"]: c["point"]["train.lr"] for c in choice["choices"]}
    compare = runs[runs["stage"] == "compare"]
    assert (compare["train.lr"] == compare["variant"].map(chosen)).all()
    assert (tmp_path / "reports" / "tuned.html").exists()
