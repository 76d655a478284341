"""The calibration is a property of the machine: cached in the user's cache directory,
shared by every working directory, measured by one process at a time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ablate.estimate import calibration
from ablate.store.user_cache import user_cache_dir

ROOT = Path(__file__).resolve().parents[1]
ENV = {"PYTHONPATH": str(ROOT / "src")}


def test_the_cache_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert calibration.path().parent == tmp_path / "ablate" / "calibration"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # ignored, as the XDG rules say
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert user_cache_dir("x") == tmp_path / "home" / ".cache" / "ablate" / "x"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert calibration.path().is_relative_to(tmp_path / "home" / ".cache" / "ablate")


# A process that calibrates with a stand-in measurement (a second of sleep, then known
# costs): what load_or_calibrate does around the measurement is what is tested.
FAKE = """
import sys, time
from ablate.estimate import calibration
from ablate.estimate.cost import CONSERVATIVE
def measure(threads=1, log=print):
    time.sleep(1.0)
    info = {"measured_by": sys.argv[1]}
    calibration.save(CONSERVATIVE, info, threads)
    return CONSERVATIVE, info
calibration.calibrate = measure
costs, info = calibration.load_or_calibrate(log=lambda m: print(m, file=sys.stderr))
print(info["measured_by"])
"""


def test_two_processes_at_once_measure_once(tmp_path):
    env = os.environ | ENV | {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    procs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        command = [sys.executable, "-c", FAKE, name]
        procs.append(
            subprocess.Popen(
                command, cwd=tmp_path / name, env=env, stdout=subprocess.PIPE, text=True
            )
        )
    measured_by = {p.communicate()[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert len(measured_by) == 1  # the second waited for the first and read its result
    again = subprocess.run(
        [sys.executable, "-c", FAKE, "c"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert again.stdout.strip() == measured_by.pop() and again.stderr == ""


@pytest.mark.slow
def test_a_second_working_directory_takes_no_calibration_time(tmp_path):
    """Two fresh checkouts' working directories on one machine: the first may calibrate
    (unless this machine already has), the second reads the same calibration, measuring
    nothing. The user's own cache, as every study and test run on this machine shares it."""

    def estimate(workdir: Path) -> subprocess.CompletedProcess:
        workdir.mkdir()
        command = [sys.executable, "-m", "ablate", "estimate", str(ROOT / "config" / "tiny.yaml")]
        command += ["--cores", "2", "--json", "--cached-by", "files"]
        return subprocess.run(
            command, cwd=workdir, env=os.environ | ENV, capture_output=True, text=True
        )

    first = estimate(tmp_path / "one")
    assert first.returncode == 0, first.stderr
    cache_file = calibration.path()
    written = cache_file.stat().st_mtime_ns
    second = estimate(tmp_path / "two")
    assert second.returncode == 0, second.stderr
    assert "calibrating" not in second.stderr
    assert cache_file.stat().st_mtime_ns == written
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    assert one["calibration"]["measured_at"] == two["calibration"]["measured_at"]
    assert two["calibration"]["file"] == str(cache_file)
    assert one["total_seconds"] == two["total_seconds"]
    for workdir in ("one", "two"):  # nothing of the calibration in the working directory
        assert not (tmp_path / workdir / "results").exists()
