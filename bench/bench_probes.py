"""What do the diagnostics cost? Baseline run with the default probe cadence vs. almost none.

    PYTHONPATH=src .venv/bin/python bench/bench_probes.py [--steps 300] [--repeats 3]

Both runs train the same spec (1 thread); the second sets probe_every to
the run length, so probes happen only at init and at the end (evals keep their
cadence: they are not diagnostics). Per-step
gradient norms are always on (they are part of every step's record). Prints the
overhead of the default cadence as a fraction of training time, in one process, so the
ratio is measured under the same machine load.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import yaml

from ablate.spec.run_spec import check_spec, resolve_spec
from ablate.train.loop import train_run


def timed(spec: dict, root: str) -> float:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        train_run(spec, out, threads=1, root=root, log=lambda m: None)
        return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--config", default="config.yaml")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--root", default=".")
    args = p.parse_args()
    base = yaml.safe_load(Path(args.config).read_text())["base"]
    base.setdefault("train", {})["steps"] = args.steps
    default = check_spec(resolve_spec(base, 0))
    sparse_sections = yaml.safe_load(yaml.safe_dump(base))
    sparse_sections["train"]["probe_every"] = args.steps
    sparse = check_spec(resolve_spec(sparse_sections, 0))
    t = default["train"]
    print(
        f"baseline, {args.steps} steps, probe_every={t['probe_every']}, "
        f"eval_every={t['eval_every']}"
    )
    with_probes, without = [], []
    for _ in range(args.repeats):  # interleaved, so drifting machine load hits both alike
        with_probes.append(timed(default, args.root))
        without.append(timed(sparse, args.root))
    a, b = min(with_probes), min(without)
    print(f"default probe cadence: {a:.2f} s   probes only at start/end: {b:.2f} s")
    print(f"probe overhead at the default cadence: {100 * (a - b) / b:.1f}% of the run")


if __name__ == "__main__":
    main()
