"""Seconds of one training step of each of a study's step shapes, measured on this machine.

The linear cost model (``cost.Costs``) prices a step from its steps, layers and FLOPs, as
fitted on the calibration's few shapes. What it cannot see costs as much: a rotary or
ALiBi position, linear attention, another batch and sequence length move a step's time by
1.3-2x at the same FLOPs (measured on the default study: its runs took 1.32x what the model
said, a rope-and-no-FFN run 2x). So the estimate times a few steps of each distinct step
shape the study has (``step_worker``; one shape per core at once, as the study trains),
once per machine: the results are cached in the
user's cache beside the calibration, keyed by the machine and by what decides a step's
time (``step_key``: the model, batch, sequence, task, precision; not the learning rate, the
seed or the number of steps), so a learning-rate sweep or a new seed measures nothing.

Torch-free (the dry run's one-line estimate reads the cache); measuring starts one worker
process.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from ablate.estimate import calibration
from ablate.spec.run_spec import RunSpec
from ablate.store.atomic import write_json
from ablate.store.user_cache import user_cache_dir

# what a step's time does not depend on (the optimiser's arithmetic is the same for any
# value of these)
NOT_STEP = {
    "train": (
        "steps",
        "lr",
        "min_lr_ratio",
        "warmup_steps",
        "weight_decay",
        "beta1",
        "beta2",
        "eval_every",
        "eval_batches",
        "probe_every",
        "diverge_factor",
    ),
    "data": ("val_fraction", "train_fraction", "eval_multipliers"),
}


def step_key(spec: RunSpec) -> str:
    """Which step shape ``spec`` trains: equal keys, equal seconds per step."""
    shape = spec.to_dict()
    for section, names in NOT_STEP.items():
        shape[section] = {k: v for k, v in shape[section].items() if k not in names}
    shape = {k: shape[k] for k in ("model", "train", "data")}
    text = json.dumps(shape, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def path(threads: int = 1) -> Path:
    return user_cache_dir("step_times") / f"{calibration.machine_key(threads)}.json"


def load(threads: int = 1) -> dict[str, float]:
    """Seconds per step of every step key measured on this machine (none: {})."""
    try:
        saved = json.loads(path(threads).read_text())
    except (OSError, ValueError):
        return {}
    return saved if isinstance(saved, dict) else {}


def for_runs(runs, threads: int = 1, measure=(), root=".", log=print) -> dict:
    """run id -> measured seconds per step, for the runs whose step shape is measured here;
    the shapes of the runs in ``measure`` (those still to train) not yet measured are timed
    first (one worker process)."""
    known = load(threads)
    missing = {}
    for r in measure:
        missing.setdefault(step_key(r.spec), r.spec.to_dict())
    missing = {key: raw for key, raw in missing.items() if key not in known}
    if missing:
        log(f"timing {len(missing)} step shapes of this study (once per machine) ...")
        known |= _measure(missing, threads, root)
        out = path(threads)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_json(out, known)
    keys = {r.run_id: step_key(r.spec) for r in runs}
    return {run_id: known[key] for run_id, key in keys.items() if key in known}


def _measure(specs: dict[str, dict], threads: int, root) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="ablate-steps-") as tmp:
        request = Path(tmp) / "specs.json"
        request.write_text(json.dumps(specs))
        command = [sys.executable, "-m", "ablate.estimate.step_worker", str(request)]
        command += [str(threads), str(Path(root).resolve()), str(calibration.cores())]
        done = subprocess.run(
            command, capture_output=True, text=True, env=calibration._env(), check=False
        )
    if done.returncode != 0:
        raise RuntimeError(f"timing the study's steps failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
