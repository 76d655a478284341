"""An interrupted study, recovered with the commands of docs/recovery.md, through real
Snakemake.

What each test stands for:
- the workflow profile (profiles/default/) is loaded, so keep-going and rerun-incomplete
  are in effect without being typed;
- kill -9 of the whole study (or a power cut) leaves a stale lock: a bare rerun is refused,
  `--unlock` then the same command finishes the study without retraining finished runs;
- a damaged run directory is named by verify_run_dir, and the command in its message
  recomputes that run alone.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml
from snakemake_runs import (
    ENV,
    ROOT,
    copy_workflow,
    fingerprint,
    finished_train_runs,
    live_processes,
    snakemake,
    start,
    train_jobs,
    wait_for,
)

from ablate.store.tables import EXECUTION_COLUMNS, STUDY_TABLES

# docs/recovery.md's tiny study, with runs of 300 steps (not 30) checkpointed every 5, so that a
# kill finds runs in the middle of training with a checkpoint
STUDY = ("--cores", "2", "--configfile", "config/long.yaml", "--config", "checkpoint_every=5")
PROFILE_LINE = "Using workflow specific profile"


def test_workflow_profile_settings_are_in_effect(capsys, monkeypatch, tmp_path):
    """Snakemake's own argument parsing, as `snakemake` in this checkout runs it."""
    from snakemake.cli import parse_args

    monkeypatch.chdir(tmp_path)  # elsewhere: found beside the Snakefile, as the tests run it
    _, args = parse_args(["--snakefile", str(ROOT / "Snakefile"), "--dry-run"])
    assert f"{PROFILE_LINE} {ROOT / 'profiles' / 'default'} " in capsys.readouterr().err
    assert args.keep_going and args.rerun_incomplete


@pytest.mark.slow
def test_rerun_incomplete_retrains_a_job_snakemake_did_not_see_finish(tmp_path):
    """Snakemake alone is killed (OOM killer, `kill -9 <its pid>`) while a run trains: the
    run finishes as an orphan, but Snakemake never recorded it, so its outputs are
    'incomplete'. Without the profile's rerun-incomplete that blocks every rerun."""
    workdir = copy_workflow(tmp_path)
    one_run = yaml.safe_load((ROOT / "config" / "tiny.yaml").read_text())
    one_run = {k: v for k, v in one_run.items() if k not in ("ablations", "grids")}
    (workdir / "config" / "one.yaml").write_text(yaml.safe_dump(one_run | {"seeds": [0]}))
    one = ("--configfile", "config/one.yaml")

    proc, log = start(workdir, "--cores", "1", *one)
    # train.log appears when the job's shell starts, after Snakemake marked it incomplete
    (train_log,) = wait_for(lambda: list(workdir.glob("results/runs/*/train.log")), proc, log)
    proc.kill()  # Snakemake only, not its group
    proc.wait()
    deadline = time.monotonic() + 60
    while live_processes(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not live_processes(proc.pid)
    run_id = train_log.parent.name
    assert (train_log.parent / "summary.json").exists()  # the orphan finished its run

    assert snakemake(workdir, "--unlock", *one).returncode == 0
    without = snakemake(workdir, "--dry-run", "--workflow-profile", "none", *one)
    assert without.returncode != 0
    assert "IncompleteFilesException" in without.stdout
    with_profile = snakemake(workdir, "--dry-run", *one)
    assert with_profile.returncode == 0, with_profile.stdout
    assert PROFILE_LINE in with_profile.stdout
    assert run_id in train_jobs(with_profile.stdout).values()  # retrained: it may be partial


@pytest.fixture(scope="module")
def killed_and_recovered(tmp_path_factory):
    """kill -9 the whole study once a run has finished, then the commands of docs/recovery.md."""
    workdir = copy_workflow(tmp_path_factory.mktemp("killed"))
    tiny = yaml.safe_load((ROOT / "config" / "tiny.yaml").read_text())
    tiny["base"]["train"] |= {"steps": 300, "eval_every": 100, "probe_every": 100}
    (workdir / "config" / "long.yaml").write_text(yaml.safe_dump(tiny))
    runs = workdir / "results" / "runs"

    def finished_and_checkpointed() -> set[str]:
        checkpointed = list(runs.glob("*/checkpoint.pt"))
        return checkpointed and finished_train_runs(log.read_text())

    proc, log = start(workdir, *STUDY)
    try:
        finished = wait_for(finished_and_checkpointed, proc, log)
        os.killpg(proc.pid, signal.SIGKILL)  # what a power cut does to every process
        summarised = {p.parent.name for p in runs.glob("*/summary.json")}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    first = log.read_text()
    n_runs = int(re.search(r"^train\s+(\d+)\s*$", first, re.MULTILINE).group(1))
    assert len(finished) < n_runs, "the study ended before the kill: make it larger"
    before = {run: fingerprint(runs / run / "summary.json") for run in finished}
    checkpointed = {p.parent.name for p in runs.glob("*/checkpoint.pt")}

    bare = snakemake(workdir, *STUDY)
    unlock = snakemake(workdir, "--unlock", "--configfile", "config/long.yaml")
    rerun = snakemake(workdir, *STUDY)
    after = {run: fingerprint(runs / run / "summary.json") for run in finished}
    return SimpleNamespace(
        workdir=workdir, n_runs=n_runs, finished=finished, before=before, after=after,
        bare=bare, unlock=unlock, rerun=rerun, checkpointed=checkpointed, summarised=summarised,
    )  # fmt: skip


@pytest.mark.slow
def test_bare_rerun_after_kill_9_is_refused_by_the_stale_lock(killed_and_recovered):
    bare = killed_and_recovered.bare
    assert bare.returncode != 0
    assert "LockException" in bare.stdout
    assert "Directory cannot be locked" in bare.stdout
    assert not train_jobs(bare.stdout)  # refused before any job started


@pytest.mark.slow
def test_unlock_then_the_same_command_finishes_the_study(killed_and_recovered):
    study = killed_and_recovered
    assert study.unlock.returncode == 0, study.unlock.stdout
    assert "Unlocked working directory" in study.unlock.stdout
    assert study.rerun.returncode == 0, study.rerun.stdout
    assert PROFILE_LINE in study.rerun.stdout
    assert (study.workdir / "reports" / "tiny.html").is_file()
    summaries = list((study.workdir / "results" / "runs").glob("*/summary.json"))
    assert len(summaries) == study.n_runs


@pytest.mark.slow
def test_runs_finished_before_the_kill_are_not_trained_again(killed_and_recovered):
    study = killed_and_recovered
    assert study.after == study.before  # same inode, mtime and bytes
    retrained = set(train_jobs(study.rerun.stdout).values())
    assert retrained, "the unfinished runs are trained"
    assert not retrained & study.finished


@pytest.mark.slow
def test_runs_killed_mid_training_resume_from_their_checkpoint(killed_and_recovered):
    """A checkpoint survives Snakemake's cleanup of the killed job's outputs, and the
    retrained run starts from it, not from step 0; it is removed once the run is done."""
    study = killed_and_recovered
    runs = study.workdir / "results" / "runs"
    assert study.checkpointed  # the kill waited for one
    for run in study.checkpointed:
        log = (runs / run / "train.log").read_text()
        assert re.search(r"resumed from step [1-9]", log), log
        assert not (runs / run / "checkpoint.pt").exists()


@pytest.mark.slow
def test_damaged_run_is_named_and_its_fix_recomputes_it_alone(killed_and_recovered, monkeypatch):
    from ablate.store.integrity import RunDirError, recompute_command, verify_run_dir

    study = killed_and_recovered
    monkeypatch.chdir(study.workdir)  # paths as Snakemake and `ablate collect` see them
    runs = Path("results/runs")
    damaged = sorted(study.finished)[0]
    steps = runs / damaged / "steps.parquet"
    steps.write_bytes(steps.read_bytes()[:100])  # a table cut short
    with pytest.raises(RunDirError, match=f"run {damaged} .*steps.parquet") as caught:
        verify_run_dir(runs / damaged, damaged)
    command = recompute_command(runs / damaged)
    assert command in str(caught.value)
    others = {p.parent.name: fingerprint(p) for p in runs.glob("*/summary.json")}
    del others[damaged]

    fixed = subprocess.run(
        f"{command} --configfile config/long.yaml",
        shell=True,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert fixed.returncode == 0, fixed.stdout
    assert set(train_jobs(fixed.stdout).values()) == {damaged}
    for run_dir in runs.iterdir():
        verify_run_dir(run_dir, run_dir.name)
    assert {run: fingerprint(runs / run / "summary.json") for run in others} == others


@pytest.mark.slow
def test_no_run_that_had_written_its_summary_trains_again(killed_and_recovered):
    """Runs that had written summary.json when Snakemake died, whether or not Snakemake saw
    their job end: a rerun of their job puts their kept files back (train/finished.py)."""
    study = killed_and_recovered
    runs = study.workdir / "results" / "runs"
    assert study.summarised >= study.finished
    rerun = set(train_jobs(study.rerun.stdout).values())
    for run in study.summarised & rerun:
        log = (runs / run / "train.log").read_text()
        assert log.startswith("restored:") and "\nrun:" not in log, log


@pytest.mark.slow
def test_the_recovered_study_equals_an_uninterrupted_one(killed_and_recovered, tmp_path):
    study = killed_and_recovered
    clean = copy_workflow(tmp_path)
    (clean / "config" / "long.yaml").write_text(
        (study.workdir / "config" / "long.yaml").read_text()
    )
    done = snakemake(clean, *STUDY)
    assert done.returncode == 0, done.stdout
    for name in STUDY_TABLES:
        a, b = (
            pd.read_parquet(d / "results" / "tiny" / f"{name}.parquet")
            for d in (study.workdir, clean)
        )
        keep = [c for c in a.columns if c not in EXECUTION_COLUMNS]
        pd.testing.assert_frame_equal(a[keep], b[keep], check_exact=True)


@pytest.mark.slow
def test_a_forced_rerun_of_a_finished_run_restores_it_in_seconds(killed_and_recovered):
    """Snakemake deletes a job's outputs before it runs the job again (here forced; after its
    own death, rerun-incomplete): the run comes back from its kept files, same bytes."""
    study = killed_and_recovered
    runs = study.workdir / "results" / "runs"
    run = sorted(study.finished)[0]
    before = {p.name: p.read_bytes() for p in (runs / run).glob("*.parquet")}
    forced = snakemake(study.workdir, *STUDY, "--forcerun", f"results/runs/{run}/summary.json")
    assert forced.returncode == 0, forced.stdout
    assert set(train_jobs(forced.stdout).values()) == {run}
    assert (runs / run / "train.log").read_text().startswith("restored:")
    assert {p.name: p.read_bytes() for p in (runs / run).glob("*.parquet")} == before
