"""The calibration process (``ablate.estimate.calibration`` starts it): time real runs, print JSON.

    python -m ablate.estimate.calibration_worker TMP THREADS CORES SPAWNED_AT

In this order, in one process (every extra interpreter would cost a torch import): its
own cold start-up (interpreter, torch and the trainer imported, then what the warm server
preloads); a first run, which pays what every run's process pays once; warm runs of
``calibrate.SHAPES`` with their evals and probes timed apart; tokenising a text file; the
sharing benchmark alone and then in CORES forked copies at once (two rounds); the study-level steps
(``calibration.study_commands``) on studies of two sizes, each command in a forked child,
as the warm server runs a study's jobs.
Runs go to TMP/runs/<run id>.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

SPAWNED_AT = float(sys.argv[4]) if len(sys.argv) > 4 else time.time()

import importlib  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402

import torch  # noqa: E402  (the import is part of what is timed)
import yaml  # noqa: E402

TORCH_AT = time.time()  # what follows, ablate's own modules, a warm server's child imports

import ablate.cli  # noqa: E402,F401  (a job runs `python -m ablate train`)
from ablate.data.build import build_task  # noqa: E402
from ablate.estimate.calibration import (  # noqa: E402
    BENCH_SHAPE,
    BENCH_STEPS,
    SHAPES,
    study_commands,
)
from ablate.estimate.calibration_fit import PER_RUN_STEPS  # noqa: E402
from ablate.estimate.cost import features, run_work  # noqa: E402
from ablate.launch.protocol import PRELOAD  # noqa: E402
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
    """Seconds of one step of the sharing benchmark: the median over its steps, so a burst
    of another process (or of a VM's neighbour) in part of it does not count."""
    import pyarrow.parquet as pq

    spec = spec_of(BENCH_SHAPE, steps=BENCH_STEPS, every=BENCH_STEPS)
    out = f"{tmp}/bench-{time.time_ns()}"
    loop.train_run(spec, out, threads=threads, log=lambda _: None)
    elapsed = pq.read_table(f"{out}/steps.parquet", columns=["time_s"]).column(0).to_pylist()
    return statistics.median(b - a for a, b in zip(elapsed, elapsed[1:], strict=False))


def at_once(works: list) -> list:
    """Each of ``works`` (callables) in a forked copy of this process, all at once; their
    JSON results. A fork shares what this process imported, as the warm server's children
    do."""
    pids = []
    for work in works:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: work, report, leave without running the parent's exit
            code = 1
            try:
                os.close(read)
                os.write(write, json.dumps(work()).encode())
                code = 0
            finally:
                os._exit(code)
        os.close(write)
        pids.append((pid, read))
    results = []
    for pid, read in pids:
        with os.fdopen(read, "rb") as f:
            out = f.read()
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0 or not out:
            raise RuntimeError("calibration: a forked measurement failed")
        results.append(json.loads(out))
    return results


def warm_command_seconds(argv: list[str], cwd: str) -> float:
    """Wall seconds of ``ablate ARGV`` in a forked child, as a warm server runs a command."""

    def command():
        os.chdir(cwd)
        os.environ["ABLATE_WARM"] = "0"
        sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (the child exits)
        tick = time.perf_counter()
        code = ablate.cli.main(argv)
        if code:
            raise RuntimeError(f"ablate {' '.join(argv)} exited {code}")
        return time.perf_counter() - tick

    return at_once([command])[0]


def study_seconds(tmp: str, runs: list[dict], only=None) -> dict[str, float]:
    """Seconds of each study-level command (those in ``only``, else all) on a study of
    ``runs``."""
    seconds: dict[str, float] = {}
    for argv in study_commands(tmp, runs, f"study{len(runs)}"):
        if only is None or argv[0] in only:
            seconds[argv[0]] = seconds.get(argv[0], 0.0) + warm_command_seconds(argv, tmp)
    return seconds


def main(tmp: str, threads: int, cores: int) -> dict:
    torch.set_num_threads(threads)
    phases, tick = {}, time.perf_counter()

    def phase(name: str) -> None:  # seconds each part of the calibration took
        nonlocal tick
        phases[name], tick = round(time.perf_counter() - tick, 2), time.perf_counter()

    for name in PRELOAD:  # what the warm server imports before it forks a command
        importlib.import_module(name)
    phase("preload")
    evals, probes = Timed("evaluate"), Timed("probe")
    if not evals.patched or not probes.patched:
        raise RuntimeError("calibration: the training loop's evaluate/probe were not found")
    cold = timed_run(spec_of(SHAPES[0], steps=10, every=5), tmp, threads, evals, probes)
    phase("first run")
    warm = [timed_run(spec_of(shape), tmp, threads, evals, probes) for shape in SHAPES]
    phase("runs")
    text_byte_s = text_seconds_per_byte(tmp)
    phase("text")
    step_s = bench_step_s(tmp, threads)
    # twice, and the round that shared best: another process only ever slows a round (one
    # that held a core through a whole round once measured the cores as half as fast)
    rounds = [at_once([lambda: bench_step_s(tmp, threads)] * cores) for _ in range(2)]
    shared = min(rounds, key=lambda r: sum(r) / len(r))
    phase("sharing")
    runs = [{"run_id": r["run_id"], "spec": r["spec"]} for r in [cold, *warm]]
    # the study steps on a study of all the runs, and those that read every run's tables
    # (calibration_fit.PER_RUN_STEPS) also on one of the first two: what each run adds (one
    # after the other: at once, their file writes slow each other more than the sharing
    # benchmark says)
    study = {2: study_seconds(tmp, runs[:2], only=PER_RUN_STEPS)}
    study[len(runs)] = study_seconds(tmp, runs)
    phase("study steps")
    return {
        # an interpreter importing torch, the trainer and the rest of what the warm
        # server preloads: what the server's start costs, and a job that starts cold
        "startup_s": IMPORTED_AT - SPAWNED_AT + phases["preload"],
        "ablate_import_s": IMPORTED_AT - TORCH_AT,
        "cold": cold,
        "warm": warm,
        "text_byte_s": text_byte_s,
        "step_s": step_s,
        "shared_step_s": shared,
        "study_s": study,
        "phases_s": phases,
    }


if __name__ == "__main__":
    result = main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
    print(json.dumps(result))
