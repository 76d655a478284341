"""Measure what a run costs on this machine: the coefficients of ``ablate.estimate.cost.Costs``.

``ablate estimate`` calibrates once per machine kind and caches the result in the user's
cache directory, ``$XDG_CACHE_HOME/ablate/calibration/<machine key>.json`` (default
``~/.cache/ablate``; the key names the CPU model, core count, torch version and threads per
job): a property of the machine, shared by every checkout, study and test run on it. A
lock file beside it makes a second process that needs the same calibration wait for the
first instead of measuring the machine while the first measures it. It takes a few seconds
and is never run while Snakemake parses the workflow: loading a cached calibration
(``load``) is plain JSON, and importing this module imports no torch; only the worker
processes do.

What is measured, through the real code path (``ablate.train.loop.train_run``, one torch
thread, as a Snakemake job runs):

- start-up: a fresh interpreter importing torch and the trainer, timed from its spawn;
- per run: a first ("cold") run in that fresh process pays set-up, first-use costs and the
  writing of its tables; what its steps, evals and probes do not explain is per-run cost;
- per step, eval batch and probe: warm runs of a few model sizes (widths 16-128, 1-4
  layers), each component fitted by least squares over its features (``cost.FEATURES``);
- tokenising a text corpus, per byte;
- sharing: the same steps in one process per core at once, against one alone;
- the study-level steps: references, collect, analyse and report on the calibration runs.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import ablate
from ablate.data.references import reference_key, reference_spec
from ablate.estimate.calibration_fit import fit_costs
from ablate.estimate.cost import Costs
from ablate.spec.run_spec import RunSpec
from ablate.store.atomic import write_json
from ablate.store.user_cache import user_cache_dir
from ablate.study.expand import Run
from ablate.study.manifest import manifest

VERSION = 3  # bump when what is measured changes: older calibrations are then ignored
# Warm calibration runs: (d_model, n_layer, n_head, batch, seq_len, steps). Narrow and deep,
# wide and shallow, and one like the default study's baseline, so per-step, per-layer and
# per-FLOP costs separate.
# Steps: enough that a neighbour's burst on a shared VM moves a shape's time by a few per
# cent, not by a third (8 steps of the widest shape did: 1.2x between two calibrations).
SHAPES = [
    (16, 1, 2, 8, 32, 32),
    (32, 4, 2, 8, 32, 24),
    (64, 2, 4, 32, 64, 24),
    (128, 1, 4, 32, 64, 12),
]
BENCH_SHAPE = SHAPES[2]  # what the sharing measurement repeats in every core at once
BENCH_STEPS = 24


def cores() -> int:
    """Cores this process may run on (a cgroup or taskset may allow fewer than exist)."""
    return len(os.sched_getaffinity(0))


def machine_key(threads: int = 1) -> str:
    """CPU model, cores, torch version and threads per job: what the coefficients depend on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = "none"
    what = f"{cpu}|{cores()}|{torch_version}|{threads}"
    slug = re.sub(r"[^A-Za-z0-9]+", "-", cpu).strip("-")[:40]
    digest = hashlib.sha256(what.encode()).hexdigest()[:8]
    return f"{slug}-{cores()}c-torch{torch_version}-t{threads}-{digest}"


def cache_dir() -> Path:
    """Where this user's calibrations live (``ablate.store.user_cache``)."""
    return user_cache_dir("calibration")


def path(threads: int = 1) -> Path:
    return cache_dir() / f"{machine_key(threads)}.json"


def load(threads: int = 1) -> tuple[Costs, dict] | None:
    """The cached calibration of this machine (costs, info), or None. Cheap: no torch."""
    try:
        saved = json.loads(path(threads).read_text())
    except (OSError, ValueError):
        return None
    if saved.get("version") != VERSION:
        return None
    return Costs(**saved["costs"]), saved["info"]


def save(costs: Costs, info: dict, threads: int = 1) -> Path:
    out = path(threads)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, {"version": VERSION, "costs": dataclasses.asdict(costs), "info": info})
    return out


def load_or_calibrate(threads: int = 1, again: bool = False, log=print) -> tuple[Costs, dict]:
    """The cached calibration, else (or with ``again``) a new one. One process measures at a
    time: another that needs this machine's calibration meanwhile waits on the lock, then
    reads what the first saved instead of measuring a machine that is busy measuring."""
    cached = None if again else load(threads)
    if cached is not None:
        return cached
    lock_file = path(threads).with_suffix(".lock")
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"another process is calibrating this machine ({lock_file}): waiting ...")
            fcntl.flock(lock, fcntl.LOCK_EX)
            cached = load(threads)  # what it measured (with `again` too: it is fresh)
            if cached is not None:
                return cached
        if not again and (cached := load(threads)) is not None:
            return cached  # saved between our first look and the lock
        what = "again" if again else "(none cached)"
        log(f"calibrating this machine {what}: {machine_key(threads)} ...")
        return calibrate(threads, log)


def calibrate(threads: int = 1, log=print) -> tuple[Costs, dict]:
    """Measure this machine (about 10-15 s), cache the result and return (costs, info).
    Callers that may run beside another use ``load_or_calibrate`` (it holds the lock)."""

    started = time.perf_counter()
    n = cores()
    warm_start = _warm_start_seconds()
    with tempfile.TemporaryDirectory(prefix="ablate-calibrate-") as tmp:
        log(f"calibrating: runs alone, then {n} at once (one per core), then the study steps")
        measured = _worker(tmp, threads, n)
    costs = fit_costs(measured, warm_start)
    info = {
        "machine": machine_key(threads),
        "cores": n,
        "threads": threads,
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "seconds": round(time.perf_counter() - started, 1),
        "study_steps_s": {
            f"{n} runs": {k: round(v, 2) for k, v in parts.items()}
            for n, parts in measured["study_s"].items()
        },
        "phases_s": {"warm start": round(3 * warm_start, 2)} | measured["phases_s"],
        # the machine's load while measuring: a busy machine measures slow
        "load_average": os.getloadavg()[0],
    }
    save(costs, info, threads)
    return costs, info


def _env() -> dict:
    src = str(Path(ablate.__file__).resolve().parent.parent)  # the folder that holds ablate/
    return os.environ | {"PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _warm_start_seconds(repeats: int = 3) -> float:
    """What a job's own process costs before the warm server takes its command: the
    interpreter and ``ablate.cli`` (which imports no torch), fastest of a few."""
    best = float("inf")
    for _ in range(repeats):
        tick = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import ablate.cli"], env=_env(), check=True)
        best = min(best, time.perf_counter() - tick)
    return best


def _worker(tmp: str, threads: int, n: int) -> dict:
    command = [sys.executable, "-m", "ablate.estimate.calibration_worker", tmp]
    command += [str(threads), str(n), repr(time.time())]
    done = subprocess.run(command, capture_output=True, text=True, env=_env(), check=False)
    if done.returncode != 0:
        raise RuntimeError(f"calibration worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def study_commands(tmp: str | Path, runs: list[dict], name: str) -> list[list[str]]:
    """The study-level commands (``ablate`` arguments) a study runs after its runs, here on
    the calibration's runs in ``tmp`` as a baseline and one-factor variants (a study
    named ``name``): references, collect, analyse, report. Writes the manifest and the
    reference specs they read."""
    tmp = Path(tmp)
    config = {"study": name, "seeds": [0]}
    made = [
        Run(
            r["run_id"],
            "baseline" if i == 0 else f"shape={i}",
            0,
            "induction",
            "base" if i == 0 else f"shape{i}",
            {},
            RunSpec.from_dict(r["spec"]),
        )
        for i, r in enumerate(runs)
    ]
    study = tmp / name / "study"
    study.mkdir(parents=True, exist_ok=True)
    (study / "manifest.json").write_text(json.dumps(manifest(config, made)))
    commands = []  # the references of each data config, where the analysis looks
    for key, spec in {reference_key(r.spec): r.spec for r in made}.items():
        spec_file = tmp / name / "references" / f"{key}.yaml"
        spec_file.parent.mkdir(parents=True, exist_ok=True)
        spec_file.write_text(json.dumps(reference_spec(spec)))  # JSON is YAML
        out = str(spec_file.with_suffix(".parquet"))
        commands.append(["references", "--spec", str(spec_file), "--out", out])
    manifest_file, runs_dir = str(study / "manifest.json"), str(tmp / "runs")
    commands += [
        ["collect", "--manifest", manifest_file, "--runs", runs_dir, "--out", str(study)],
        ["analyse", "--study-dir", str(study)],
        ["report", "--study-dir", str(study), "--out", str(study / "report.html")],
    ]
    return commands
