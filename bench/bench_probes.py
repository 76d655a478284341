"""What do the diagnostics cost? The baseline run with its probes, each instrument alone,
and the default set, against the same run with almost no probing.

    PYTHONPATH=src .venv/bin/python bench/bench_probes.py [--config config.yaml]
        [--steps 300] [--repeats 3]

Every case trains the baseline spec of ``--config`` on 1 thread, in one process,
interleaved ``--repeats`` times (the fastest of each kept), so drifting machine load hits
all alike:

    sparse        probe_every = the run length: probes only at init and at the end, and no
                  instrument (evals keep their cadence: they are not diagnostics)
    probes only   the config's probe cadence, every instrument off: the attention,
                  residual and update-ratio probes the lab always had
    + sinks       probes.sinks alone (sink mass, massive activations)
    + noise       probes.noise_scale alone
    + sharpness   probes.sharpness alone (off by default)
    defaults      the ProbeConfig defaults (what a study without probes: records)

Each is printed as its overhead over ``sparse`` in % of the sparse run, and each
instrument's own cost as its case minus ``probes only``.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import yaml

from ablate.spec.run_spec import check_spec, resolve_spec
from ablate.train.loop import train_run

OFF = {"sinks": False, "noise_scale": False, "sharpness": False}
CASES = {
    "probes only": OFF,
    "+ sinks": OFF | {"sinks": True},
    "+ noise": OFF | {"noise_scale": True},
    "+ sharpness": OFF | {"sharpness": True},
    "defaults": {},
}


def timed(spec, root: str) -> float:
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
    config = yaml.safe_load(Path(args.config).read_text())
    base = copy.deepcopy(config["base"])
    base.setdefault("train", {})["steps"] = args.steps
    probes = config.get("probes") or {}

    def spec(train: dict, instruments: dict):
        sections = copy.deepcopy(base)
        sections["train"] |= train
        sections["probes"] = {k: v for k, v in probes.items() if k not in OFF} | instruments
        return check_spec(resolve_spec(sections, 0))

    specs = {"sparse": spec({"probe_every": args.steps}, OFF)}
    specs |= {name: spec({}, instruments) for name, instruments in CASES.items()}
    t = specs["defaults"].train
    print(f"baseline of {args.config}, {args.steps} steps, probe_every={t.probe_every}")
    times: dict[str, list[float]] = {name: [] for name in specs}
    for _ in range(args.repeats):
        for name, s in specs.items():
            times[name].append(timed(s, args.root))
    best = {name: min(v) for name, v in times.items()}
    sparse, probing = best["sparse"], best["probes only"]
    for name, seconds in best.items():
        line = f"{name:12s} {seconds:7.2f} s   overhead {100 * (seconds - sparse) / sparse:5.1f}%"
        if name.startswith("+"):
            line += f"   the instrument alone {100 * (seconds - probing) / sparse:5.1f}%"
        print(line)


if __name__ == "__main__":
    main()
