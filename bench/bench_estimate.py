"""Predicted against measured: `ablate estimate` then `snakemake --cores N` on a fresh copy.

    python bench/bench_estimate.py [CONFIG ...] [--cores 4] [--keep DIR]

For each study: copies this checkout's tracked files to a fresh directory (no results, so
every run trains; the corpora in resources/ are linked, as setup would have fetched them),
runs `ablate estimate CONFIG --cores N --json` there (calibrating on its first use and
timing its answer), then `snakemake --cores N --configfile CONFIG`, and prints the
predicted and measured wall seconds, their ratio, and the machine's load before and after
(a busy machine makes both slow, but not by the same factor). Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_pipeline import copy_tracked_files

ROOT = Path(__file__).resolve().parents[1]


def fresh_copy(dest: Path) -> None:
    copy_tracked_files(ROOT, dest)
    if (ROOT / "resources").is_dir():  # the corpora setup fetched, not part of a study's time
        shutil.copytree(ROOT / "resources", dest / "resources")
    # the calibration is the machine's (~/.cache/ablate), shared with the copy as it is


def timed(command: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    env = os.environ | {"PYTHONPATH": str(cwd / "src")}
    tick = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - tick
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return seconds, done


def bench(config: str, cores: int, workdir: Path, recalibrate: bool) -> dict:
    fresh_copy(workdir)
    load_before = os.getloadavg()[0]
    command = [sys.executable, "-m", "ablate", "estimate", config, "--cores", str(cores), "--json"]
    answer_s, done = timed(command + (["--recalibrate"] if recalibrate else []), workdir)
    predicted = json.loads(done.stdout)
    snakemake = [sys.executable, "-m", "snakemake", "--cores", str(cores), "--configfile", config]
    actual_s, _ = timed(snakemake, workdir)
    return {
        "config": config,
        "runs": predicted["runs"],
        "predicted_s": predicted["total_seconds"],
        "actual_s": round(actual_s, 1),
        "ratio": round(predicted["total_seconds"] / actual_s, 3),
        "estimate_answered_in_s": round(answer_s, 1),
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("configs", nargs="*", default=["config.yaml"])
    p.add_argument("--cores", type=int, default=4)
    p.add_argument("--recalibrate", action="store_true", help="measure this machine afresh")
    p.add_argument("--keep", help="work in this directory (kept) instead of a temporary one")
    args = p.parse_args()
    for i, config in enumerate(args.configs):
        with tempfile.TemporaryDirectory(prefix="bench-estimate-") as tmp:
            workdir = Path(args.keep) / str(i) if args.keep else Path(tmp)
            result = bench(config, args.cores, workdir, args.recalibrate and i == 0)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
