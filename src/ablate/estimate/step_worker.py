"""Time a few training steps of each step shape (``step_times`` starts it), print JSON.

    python -m ablate.estimate.step_worker SPECS.json THREADS ROOT CORES

SPECS.json maps a step key to a run spec. Each is set up as ``ablate train`` sets it up
(``train.loop.setup``: threads, determinism, the seeded model) and stepped by the training
loop's own ``Stepper``: WARM steps, then the median of TIMED (a task is built
once per data config), the shapes shared out over CORES forked copies at once, so
the cores are as busy as when the study trains. A text task whose corpus is
not downloaded yet (the estimate runs before the download) is timed on a synthetic task of
the same sequence length and TEXT_VOCAB symbols, about a character corpus's vocabulary.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

from ablate.data.build import build_task
from ablate.data.sources import corpus_files
from ablate.estimate.calibration_worker import at_once
from ablate.spec.run_spec import RunSpec
from ablate.train.loop import setup
from ablate.train.step import Stepper, make_optimizer

WARM, TIMED = 2, 4
TASKS: dict = {}  # data config (JSON) -> its built task
TEXT_VOCAB = 96


def timing_spec(spec: RunSpec, root: Path) -> RunSpec:
    files = corpus_files(spec.data)
    if files and not all((root / f).is_file() for f in files):
        data = dataclasses.replace(spec.data, task="induction", vocab=TEXT_VOCAB, path=None)
        return dataclasses.replace(spec, data=data)
    return spec


def step_seconds(spec: RunSpec, threads: int, root: Path) -> float:
    spec = timing_spec(spec, root)
    data_key = json.dumps(dataclasses.asdict(spec.data), sort_keys=True)
    if data_key not in TASKS:  # shapes of one data config share its task (tokenised once)
        TASKS[data_key] = build_task(spec.data, str(root))
    model, task, t, autocast = setup(spec, threads, root, task=TASKS[data_key])
    stepper = Stepper(model, make_optimizer(model, t), task, spec.data_seed, t, autocast)
    seconds = []
    for step in range(WARM + TIMED):
        tick = time.perf_counter()
        result = stepper(step)
        float(result.loss)  # the loop reads every step's loss on the CPU
        seconds.append(time.perf_counter() - tick)
    return statistics.median(seconds[WARM:])


def main(request: str, threads: int, root: str, cores: int) -> dict[str, float]:
    """The shapes split over ``cores`` forked copies of this process, timed at once: the
    cores are as busy as when the study trains, one run per core."""
    specs = json.loads(Path(request).read_text())
    keys = list(specs)
    chunks = [keys[i::cores] for i in range(min(cores, len(keys)))]

    def time_chunk(chunk):
        return lambda: {
            k: step_seconds(RunSpec.from_dict(specs[k]), threads, Path(root)) for k in chunk
        }

    out: dict[str, float] = {}
    for part in at_once([time_chunk(chunk) for chunk in chunks]):
        out |= part
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))))
