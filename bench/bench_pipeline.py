"""Pipeline efficiency: how much of a study's core time trains, and where the rest goes.

    python bench/bench_pipeline.py [--config CONFIG] [--cores N] [--keep DIR] [--json FILE]
                                   [-- SNAKEMAKE ARGS, e.g. --resources train_slots=4]

Copies this checkout's tracked files to a fresh directory and runs ``snakemake --cores N``
there, cold as a new user has it after setup: no results, no corpora (fetched by the
study), and an empty cache directory (``XDG_CACHE_HOME``: the machine's calibration and
pip's cache). N defaults to the cores this process may use: one job per core.

    P3 = sum over runs of wall_s / (study wall time x cores)

``wall_s`` is a run's own training time (its summary.json: set-up, steps, evals, probes).
Where the rest of the cores' time went is measured from the process list: every 0.1 s
the bench reads the CPU time of every process that did not exist when it started, and
sorts it by what the process is (the trainers, Snakemake itself, the study-level steps,
the calibration, the corpus download). Idle is what no process used. Run it on a quiet
machine; compare numbers only within one run of the bench.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")
STEPS = ("estimate", "references", "collect", "analyse", "report", "fetch", "tensorboard")


def copy_tracked_files(root: Path, dest: Path) -> None:
    """The checkout's tracked files (as they are in the working tree), nothing else."""
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        src, out = root / name.decode(), dest / name.decode()
        if src.is_file():
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, out)


def category(cmdline: list[str], comm: str) -> str:
    """What a process is, from its command line; for a child of the warm server (which has
    the server's command line), from the name it gives itself (``ablate train``, ...)."""
    text = " ".join(cmdline)
    if "calibration_worker" in text:
        return "calibration"
    if "pip" in text and "download" in text:
        return "fetch (pip)"
    if "ablate.launch.server" in text:
        sub = comm.split()[1] if comm.startswith("ablate ") and len(comm.split()) > 1 else ""
        return _ablate(sub) if sub else "warm server"
    if "-m ablate" in text:
        words = text.split("-m ablate", 1)[1].split()
        return _ablate(words[0] if words else "")
    if "snakemake" in text:
        return "snakemake (jobs)" if "--target-jobs" in text else "snakemake"
    return f"other: {os.path.basename(cmdline[0]) if cmdline and cmdline[0] else comm}"


def _ablate(sub: str) -> str:
    if sub == "train":
        return "train"
    return f"step: {sub}" if sub in STEPS else f"ablate {sub}"


class Sampler(threading.Thread):
    """CPU seconds and lifetimes of every process that appears after it starts."""

    def __init__(self, every: float = 0.1):
        super().__init__(daemon=True)
        self.every, self.stop = every, threading.Event()
        self.before = set(_pids())
        self.cpu: dict[int, float] = {}
        self.kind: dict[int, str] = {}
        self.seen: dict[int, list[float]] = {}

    def run(self) -> None:
        while not self.stop.is_set():
            now = time.perf_counter()
            for pid in _pids():
                if pid in self.before or pid == os.getpid():
                    continue
                try:
                    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    if self.kind.get(pid, "warm server") == "warm server":  # a child names
                        raw = Path(f"/proc/{pid}/cmdline").read_bytes()  # itself after fork
                        comm = Path(f"/proc/{pid}/comm").read_text().strip()
                        self.kind[pid] = category(raw.decode(errors="replace").split("\0"), comm)
                except OSError:
                    continue
                self.cpu[pid] = (int(stat[11]) + int(stat[12])) / TICK  # utime + stime
                self.seen.setdefault(pid, [now, now])[1] = now
            self.stop.wait(self.every)

    def by_kind(self) -> dict[str, dict]:
        out = defaultdict(lambda: {"cpu_s": 0.0, "processes": 0, "alive_s": 0.0})
        for pid, cpu in self.cpu.items():
            row = out[self.kind.get(pid, "other")]
            row["cpu_s"] += cpu
            row["processes"] += 1
            row["alive_s"] += self.seen[pid][1] - self.seen[pid][0]
        return dict(out)


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def measure(workdir: Path, config: str, cores: int, extra: list[str] = ()) -> dict:
    cache = workdir / ".cache"
    env = os.environ | {"XDG_CACHE_HOME": str(cache), "PYTHONPATH": str(workdir / "src")}
    command = [sys.executable, "-m", "snakemake", "--cores", str(cores), "--configfile", config]
    command += list(extra)
    sampler = Sampler()
    sampler.start()
    tick = time.perf_counter()
    with open(workdir / "snakemake.log", "w") as log:
        done = subprocess.run(command, cwd=workdir, env=env, stdout=log, stderr=log)
    wall = time.perf_counter() - tick
    time.sleep(0.3)  # a last sample of processes that outlive the study (a trainer server)
    sampler.stop.set()
    sampler.join()
    if done.returncode != 0:
        sys.exit(f"snakemake failed; see {workdir / 'snakemake.log'}")
    manifest = next((workdir / "results").glob("*/manifest.json"))
    run_ids = {r["run_id"] for r in json.loads(manifest.read_text())["runs"]}
    summaries = [
        json.loads((workdir / "results" / "runs" / rid / "summary.json").read_text())
        for rid in run_ids
    ]
    train_s = sum(s["wall_s"] for s in summaries)
    kinds = sampler.by_kind()
    used = sum(k["cpu_s"] for k in kinds.values())
    trainer_cpu = kinds.get("train", {}).get("cpu_s", 0.0)
    return {
        "config": config,
        "cores": cores,
        "snakemake_args": list(extra),
        "runs": len(summaries),
        "wall_s": round(wall, 1),
        "train_wall_s": round(train_s, 1),
        "P3": round(train_s / (wall * cores), 3),
        "ideal_wall_s": round(train_s / cores, 1),
        "core_s": round(wall * cores, 1),
        "rest": {
            "trainers beyond wall_s (start-up, writing)": round(trainer_cpu - train_s, 1),
            **{k: round(v["cpu_s"], 1) for k, v in sorted(kinds.items()) if k != "train"},
            "idle (no process)": round(wall * cores - used, 1),
        },
        "processes": {k: v["processes"] for k, v in sorted(kinds.items())},
        "alive_s": {k: round(v["alive_s"], 1) for k, v in sorted(kinds.items())},
        "load_after": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="config.yaml")
    p.add_argument("--cores", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--keep", help="work in this directory (kept) instead of a temporary one")
    p.add_argument("--json", help="also write the result to this file")
    p.add_argument("snakemake_args", nargs="*", help="more Snakemake arguments (after --)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        workdir = Path(args.keep) if args.keep else Path(tmp)
        copy_tracked_files(ROOT, workdir)
        result = measure(workdir, args.config, args.cores, args.snakemake_args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
