"""Helpers for driving real Snakemake in the recovery tests (tests/test_recovery.py)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
ENV = os.environ | {
    "PYTHONPATH": str(ROOT / "src"),  # this checkout's code, for Snakemake and its jobs
    "PATH": f"{SNAKEMAKE.parent}{os.pathsep}{os.environ['PATH']}",
}


def copy_workflow(dest: Path) -> Path:
    """The files a checkout needs to run a study (the code comes in through PYTHONPATH)."""
    for name in ["Snakefile", "workflow", "profiles", "config"]:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name)
        else:
            shutil.copy(source, dest / name)
    return dest


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """One command as a user types it in the workflow directory; output merged."""
    return subprocess.run(
        [str(SNAKEMAKE), *args],
        cwd=workdir,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def start(workdir: Path, *args: str) -> tuple[subprocess.Popen, Path]:
    """Snakemake in the background, in its own process group (its jobs join that group)."""
    log = workdir / "first-attempt.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(SNAKEMAKE), *args],
            cwd=workdir,
            env=ENV,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return proc, log


def wait_for(condition, proc: subprocess.Popen, log: Path, timeout: float = 120):
    """Poll until condition() is truthy; fail if Snakemake ends first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc.poll() is not None:
            pytest.fail(f"snakemake ended first (rc {proc.returncode}):\n{log.read_text()}")
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s:\n{log.read_text()}")


def live_processes(pgid: int) -> list[int]:
    """Processes of a group that still run. Zombies are left out: a killed Snakemake's
    children are reparented, and on some machines (containers) nobody reaps them."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (comm)"
        except OSError:
            continue  # it exited while we looked
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state != "Z":
            pids.append(int(stat.parent.name))
    return pids


def train_jobs(output: str) -> dict[str, str]:
    """{jobid: run id} of each train job Snakemake announced in its output."""
    indented = r"(?:[ \t]+.*\n)*?"  # the job's other lines, up to the next field we want
    pattern = rf"rule train:\n{indented}[ \t]+jobid: (\d+)\n{indented}[ \t]+wildcards: run=(\w+)"
    return dict(re.findall(pattern, output))


def finished_train_runs(output: str) -> set[str]:
    """Run ids whose train job Snakemake reported finished (it records that just before)."""
    jobs = train_jobs(output)
    return {jobs[j] for j in re.findall(r"Finished jobid: (\d+) \(Rule: train\)", output)}


def fingerprint(path: Path) -> tuple[int, int, bytes]:
    """Rewritten (even with equal bytes) means a new inode or mtime: training ran again."""
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_ino, path.read_bytes()
