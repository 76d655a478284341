"""What do checkpoints cost? The baseline run, timing every checkpoint it writes.

    PYTHONPATH=src .venv/bin/python bench/bench_checkpoint.py [--steps 1000] [--every 200]

Trains the config's baseline (1 thread) with checkpoints every ``--every`` steps and times
each checkpoint from inside the run (serialise, atomic write, fsync), so the overhead is a
ratio measured in one process under one machine load: checkpoint seconds / run seconds.
It also trains the same run without checkpoints, interleaved, as a check on the total; on a
noisy machine that end-to-end difference is mostly noise at this size. A checkpoint holds
the records so far, so its size grows with the step.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import yaml

import ablate.train.checkpoint as checkpoint
import ablate.train.loop as loop
from ablate.spec.run_spec import check_spec, resolve_spec


def timed(spec: dict, root: str, every: int, saves: list[tuple[float, int]]) -> float:
    """Wall seconds of one run; each checkpoint's (seconds, bytes) appended to ``saves``."""
    real_save = checkpoint.save_checkpoint

    def save(run_dir, state):
        start = time.perf_counter()
        real_save(run_dir, state)
        size = (Path(run_dir) / checkpoint.CHECKPOINT).stat().st_size
        saves.append((time.perf_counter() - start, size))

    with tempfile.TemporaryDirectory() as out:
        loop.save_checkpoint = save
        try:
            start = time.perf_counter()
            loop.train_run(spec, out, root=root, log=lambda m: None, checkpoint_every=every)
            return time.perf_counter() - start
        finally:
            loop.save_checkpoint = real_save


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--config", default="config.yaml")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--every", type=int, default=loop.CHECKPOINT_EVERY)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--root", default=".")
    args = p.parse_args()
    base = yaml.safe_load(Path(args.config).read_text())["base"]
    base.setdefault("train", {})["steps"] = args.steps
    spec = check_spec(resolve_spec(base, 0))
    runs = []
    for _ in range(args.repeats):
        saves: list[tuple[float, int]] = []
        with_ckpt = timed(spec, args.root, args.every, saves)
        without = timed(spec, args.root, args.steps + 1, [])
        runs.append((with_ckpt, without, saves))
    with_ckpt, without, saves = min(runs, key=lambda r: r[0])
    spent = sum(s for s, _ in saves)
    fastest, slowest = (1e3 * f(s for s, _ in saves) for f in (min, max))
    first, last = saves[0][1] / 1e6, saves[-1][1] / 1e6
    print(f"baseline, {args.steps} steps, checkpoint every {args.every}: {len(saves)} checkpoints")
    print(
        f"size {first:.2f} MB (first) to {last:.2f} MB (last); {fastest:.0f}-{slowest:.0f} ms each"
    )
    share = 100 * spent / with_ckpt
    print(f"checkpoint time / run time: {share:.2f}% ({spent:.3f} of {with_ckpt:.2f} s)")
    best_with, best_without = min(r[0] for r in runs), min(r[1] for r in runs)
    print(
        f"end to end, best of {args.repeats}: {best_with:.2f} s with, {best_without:.2f} s without"
    )


if __name__ == "__main__":
    main()
