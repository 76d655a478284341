"""One calibration process (``ablate.estimate.calibration`` starts it): time real runs, print JSON.

    python -m ablate.estimate.calibration_worker solo|bench TMP THREADS SPAWNED_AT

``solo`` times its own start-up, a first (cold) run, warm runs of ``calibrate.SHAPES`` with
their evals and probes timed apart, and tokenising a text file; ``bench`` only repeats the
sharing benchmark (one per core at once). Runs go to TMP/runs/<run id> so the study-level
steps can be timed on them afterwards.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

SPAWNED_AT = float(sys.argv[4]) if len(sys.argv) > 4 else time.time()

import torch  # noqa: E402  (the import is part of what is timed)
import yaml  # noqa: E402

import ablate.cli  # noqa: E402,F401  (a job runs `python -m ablate train`)
from ablate.data.build import build_task  # noqa: E402
from ablate.estimate.calibration import BENCH_SHAPE, BENCH_STEPS, SHAPES  # noqa: E402
from ablate.estimate.cost import features, run_work  # noqa: E402
from ablate.spec.config import DataConfig  # noqa: E402
from ablate.spec.run_spec import RunSpec, resolve_spec, spec_hash  # noqa: E402
from ablate.train import loop  # noqa: E402

IMPORTED_AT = time.time()


def spec_of(shape, steps=None, every=None, eval_batches=4) -> RunSpec:
    d, layers, heads, batch, seq_len, default_steps = shape
    steps = steps or default_steps
    every = every or max(1, steps // 2)
    sections = {
        "model": {"d_model": d, "n_layer": layers, "n_head": heads, "context": 4 * seq_len},
        "train": {
            "steps": steps,
            "batch_size": batch,
            "warmup_steps": 1,
            "eval_every": every,
            "probe_every": every,
            "eval_batches": eval_batches,
        },
        "data": {"task": "induction", "seq_len": seq_len, "vocab": 32, "eval_multipliers": [2]},
    }
    return resolve_spec(sections, seed=0)


class Timed:
    """Wraps the trainer's evaluate/probe wherever the loop looks them up, summing seconds."""

    def __init__(self, name: str):
        self.name, self.seconds, self.patched = name, 0.0, []
        for module in [m for n, m in sys.modules.items() if n.startswith("ablate.train")]:
            original = getattr(module, name, None)
            if callable(original) and getattr(original, "__module__", "").startswith("ablate"):
                setattr(module, name, self.wrap(original))
                self.patched.append(module.__name__)

    def wrap(self, original):
        def timed(*args, **kwargs):
            tick = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - tick

        return timed


def timed_run(spec: RunSpec, tmp: str, threads: int, evals: Timed, probes: Timed) -> dict:
    run_id = spec_hash(spec)
    out = Path(tmp) / "runs" / run_id
    out.mkdir(parents=True)
    (out / "spec.yaml").write_text(
        yaml.safe_dump(spec.to_dict(), sort_keys=True)
    )  # as run_spec writes
    e0, p0 = evals.seconds, probes.seconds
    tick = time.perf_counter()
    summary = loop.train_run(spec, out, threads=threads, log=lambda _: None)
    wall = time.perf_counter() - tick
    return {
        "run_id": run_id,
        "spec": spec.to_dict(),
        "features": features(run_work(spec)),
        "wall_s": wall,
        "train_s": summary["tokens"] / summary["tokens_per_s"],
        "eval_s": evals.seconds - e0,
        "probe_s": probes.seconds - p0,
    }


def text_seconds_per_byte(tmp: str) -> float:
    """Tokenising a text corpus at set-up, per byte (a 2 MB file of mixed text)."""

    path = f"{tmp}/text.txt"
    line = "To be, or not to be, that is the question: whether 'tis nobler in the mind\n"
    text = line * (2_000_000 // len(line))
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    tick = time.perf_counter()
    build_task(DataConfig(task="text_file", path=path, seq_len=64), "/")
    return (time.perf_counter() - tick) / len(text.encode())


def bench_step_s(tmp: str, threads: int) -> float:
    spec = spec_of(BENCH_SHAPE, steps=BENCH_STEPS, every=BENCH_STEPS)
    summary = loop.train_run(
        spec, f"{tmp}/bench-{time.time_ns()}", threads=threads, log=lambda _: None
    )
    return summary["tokens"] / summary["tokens_per_s"] / BENCH_STEPS


def main(role: str, tmp: str, threads: int) -> dict:
    torch.set_num_threads(threads)
    if role == "bench":
        return {"step_s": bench_step_s(tmp, threads)}
    evals, probes = Timed("evaluate"), Timed("probe")
    if not evals.patched or not probes.patched:
        raise RuntimeError("calibration: the training loop's evaluate/probe were not found")
    cold = timed_run(spec_of(SHAPES[0], steps=10, every=5), tmp, threads, evals, probes)
    warm = [timed_run(spec_of(shape), tmp, threads, evals, probes) for shape in SHAPES]
    return {
        "startup_s": IMPORTED_AT - SPAWNED_AT,
        "cold": cold,
        "warm": warm,
        "runs": [{"run_id": r["run_id"], "spec": r["spec"]} for r in [cold, *warm]],
        "text_byte_s": text_seconds_per_byte(tmp),
        "step_s": bench_step_s(tmp, threads),
    }


if __name__ == "__main__":
    result = main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
    print(json.dumps(result))
