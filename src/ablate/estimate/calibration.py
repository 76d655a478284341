"""Measure what a run costs on this machine: the coefficients of ``ablate.estimate.cost.Costs``.

``ablate estimate`` calibrates once per machine kind and caches the result in
``results/.calibration/<machine key>.json`` (CPU model, core count, torch version, threads
per job). It takes a few seconds and is never run while Snakemake parses the workflow:
loading a cached calibration (``load``) is plain JSON, and importing this module imports no
torch; only the worker processes do.

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
from ablate.study.expand import Run, manifest

CALIBRATION_DIR = "results/.calibration"
VERSION = 1  # bump when what is measured changes: older calibrations are then ignored
# Warm calibration runs: (d_model, n_layer, n_head, batch, seq_len, steps). Narrow and deep,
# wide and shallow, and one like the default study's baseline, so per-step, per-layer and
# per-FLOP costs separate.
SHAPES = [
    (16, 1, 2, 8, 32, 40),
    (32, 4, 2, 8, 32, 30),
    (64, 2, 4, 32, 64, 30),
    (128, 1, 4, 32, 64, 12),
]
BENCH_SHAPE = SHAPES[2]  # what the sharing measurement repeats in every core at once
BENCH_STEPS = 20


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


def path(root: str | Path = ".", threads: int = 1) -> Path:
    return Path(root) / CALIBRATION_DIR / f"{machine_key(threads)}.json"


def load(root: str | Path = ".", threads: int = 1) -> tuple[Costs, dict] | None:
    """The cached calibration of this machine (costs, info), or None. Cheap: no torch."""
    try:
        saved = json.loads(path(root, threads).read_text())
    except (OSError, ValueError):
        return None
    if saved.get("version") != VERSION:
        return None
    return Costs(**saved["costs"]), saved["info"]


def save(costs: Costs, info: dict, root: str | Path = ".", threads: int = 1) -> Path:
    out = path(root, threads)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, {"version": VERSION, "costs": dataclasses.asdict(costs), "info": info})
    return out


def calibrate(root: str | Path = ".", threads: int = 1, log=print) -> tuple[Costs, dict]:
    """Measure this machine (about 10-20 s), cache the result and return (costs, info)."""

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ablate-calibrate-") as tmp:
        solo = _worker("solo", tmp, threads)
        n = cores()
        log(f"calibrating: {n} job(s) at once, one per core ...")
        shared = _workers_at_once(n, tmp, threads)
        study_s = _study_steps(Path(tmp), solo["runs"])
    costs = fit_costs(solo, shared, study_s)
    info = {
        "machine": machine_key(threads),
        "cores": n,
        "threads": threads,
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "seconds": round(time.perf_counter() - started, 1),
        # the machine's load while measuring: a busy machine measures slow
        "load_average": os.getloadavg()[0],
    }
    save(costs, info, root, threads)
    return costs, info


def _command(role: str, tmp: str, threads: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ablate.estimate.calibration_worker",
        role,
        tmp,
        str(threads),
        repr(time.time()),
    ]


def _env() -> dict:
    src = str(Path(ablate.__file__).resolve().parent.parent)  # the folder that holds ablate/
    return os.environ | {"PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _worker(role: str, tmp: str, threads: int) -> dict:
    done = subprocess.run(
        _command(role, tmp, threads), capture_output=True, text=True, env=_env(), check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"calibration worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _workers_at_once(n: int, tmp: str, threads: int) -> list[dict]:
    procs = [
        subprocess.Popen(
            _command("bench", tmp, threads), stdout=subprocess.PIPE, text=True, env=_env()
        )
        for _ in range(n)
    ]
    results = []
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError("calibration worker (bench) failed")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def _study_steps(tmp: Path, runs: list[dict]) -> float:
    """Seconds of references, collect, analyse and report on the calibration runs (the real
    commands)."""

    config = {"study": "calibration", "seeds": [0]}
    made = [
        Run(
            r["run_id"],
            "baseline" if i == 0 else f"shape={i}",
            0,
            "induction",
            "shape",
            {},
            RunSpec.from_dict(r["spec"]),
        )
        for i, r in enumerate(runs)
    ]
    (tmp / "manifest.json").write_text(json.dumps(manifest(config, made)))
    study = tmp / "study"
    ablate = [sys.executable, "-m", "ablate"]
    # the references of each data config, where the analysis looks (beside the study)
    references = []
    for key, spec in {reference_key(r.spec): r.spec for r in made}.items():
        spec_file = tmp / "references" / f"{key}.yaml"
        spec_file.parent.mkdir(parents=True, exist_ok=True)
        spec_file.write_text(json.dumps(reference_spec(spec)))  # JSON is YAML
        out = str(tmp / "references" / f"{key}.parquet")
        references.append([*ablate, "references", "--spec", str(spec_file), "--out", out])
    commands = [
        *references,
        [
            *ablate,
            "collect",
            "--manifest",
            str(tmp / "manifest.json"),
            "--runs",
            str(tmp / "runs"),
            "--out",
            str(study),
        ],
        [*ablate, "analyse", "--study-dir", str(study)],
        [*ablate, "report", "--study-dir", str(study), "--out", str(tmp / "report.html")],
    ]
    start = time.perf_counter()
    for command in commands:
        done = subprocess.run(command, capture_output=True, text=True, env=_env(), cwd=tmp)
        if done.returncode != 0:
            raise RuntimeError(
                f"calibration: {' '.join(command[2:4])} failed:\n{done.stderr[-2000:]}"
            )
    return time.perf_counter() - start
