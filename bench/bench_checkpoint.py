"""What do checkpoints cost? The baseline run with checkpoints at a given interval vs none.

    PYTHONPATH=src .venv/bin/python bench/bench_checkpoint.py [--steps 1000] [--every 200]

Both runs train the same spec (1 thread, in this process, interleaved so drifting machine
load hits both alike); the second checkpoints never (an interval past the run's end).
Prints the checkpoint size, the time per checkpoint and the overhead as a fraction of the
run. A checkpoint holds the records so far, so its size grows with the step.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import yaml

import ablate.train.checkpoint as checkpoint
import ablate.train.loop as loop
from ablate.spec import check_spec, resolve_spec
from ablate.train.loop import CHECKPOINT_EVERY, train_run


def timed(spec: dict, root: str, every: int, sizes: list[int]) -> float:
    real_save = checkpoint.save_checkpoint

    def save(run_dir, state):  # measure what each checkpoint writes
        real_save(run_dir, state)
        sizes.append((Path(run_dir) / checkpoint.CHECKPOINT).stat().st_size)

    with tempfile.TemporaryDirectory() as out:
        loop.save_checkpoint = save
        try:
            start = time.perf_counter()
            train_run(spec, out, threads=1, root=root, log=lambda m: None, checkpoint_every=every)
            return time.perf_counter() - start
        finally:
            loop.save_checkpoint = real_save


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--config", default="config.yaml")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--every", type=int, default=CHECKPOINT_EVERY)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--root", default=".")
    args = p.parse_args()
    base = yaml.safe_load(Path(args.config).read_text())["base"]
    base.setdefault("train", {})["steps"] = args.steps
    spec = check_spec(resolve_spec(base, 0))
    with_ckpt, without, sizes = [], [], []
    for _ in range(args.repeats):
        sizes.clear()
        with_ckpt.append(timed(spec, args.root, args.every, sizes))
        without.append(timed(spec, args.root, args.steps + 1, []))
    a, b = min(with_ckpt), min(without)
    n = len(sizes)
    print(f"baseline, {args.steps} steps, checkpoint every {args.every}: {n} checkpoints")
    print(f"checkpoint size: first {sizes[0] / 1e6:.2f} MB, last {sizes[-1] / 1e6:.2f} MB")
    print(f"with checkpoints: {a:.2f} s   without: {b:.2f} s")
    print(
        f"overhead: {100 * (a - b) / b:.1f}% of the run ({(a - b) / max(n, 1) * 1e3:.0f} ms each)"
    )


if __name__ == "__main__":
    main()
