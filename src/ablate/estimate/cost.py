"""How long one run takes: the work its spec asks for, and what each unit of work costs.

Pure Python (no torch): the DAG layer, ``ablate estimate`` and the Slurm requests
(``ablate.estimate.job_resources``) all price a run from its spec with this one model, so the
fact is stated once. A run's seconds, alone on one core, are a sum of linear terms::

    run + text_bytes * t_byte                  once per run (its process's set-up)
    + steps * (t_step + layers * t_step_layer) + train FLOPs * t_flop          training
    + eval batches * (t_batch + layers * t_batch_layer) + eval FLOPs * t_eval_flop   evals
    + probes * (t_probe + layers * t_probe_layer)                              probes

The FLOPs are the training summary's (``ablate.model.params.flops_per_token``, Kaplan's 6N
plus attention; a forward pass is a third of it). For the small models of a typical study
the fixed and per-step terms dominate, so they are measured rather than assumed:
``ablate.estimate.calibration`` times real runs of the real training loop on this machine and
fits the coefficients (``Costs``) by least squares over the same features (``features``).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from ablate.data.sources import corpus_files
from ablate.model.params import flops_per_token
from ablate.spec.registry import POSITION, TASKS
from ablate.spec.run_spec import RunSpec
from ablate.spec.task_lengths import eval_scales, scaled_seq_len

# Assumed size of a corpus that is not downloaded yet (Shakespeare's is 5 MB): it only
# prices tokenising the text at set-up, a small term.
UNFETCHED_TEXT_BYTES = 5_000_000


@dataclasses.dataclass(frozen=True)
class Work:
    """What one run does, counted from its spec (no torch, no data)."""

    steps: int
    layers: int
    train_flops: float
    eval_batches: int  # forward batches over every eval and every eval length
    eval_flops: float
    probes: int  # probe passes, including the one before the first step
    text_bytes: int  # corpus tokenised at set-up (0 for synthetic tasks)


# The features that price a training step (the part a measured step time replaces).
TRAIN_FEATURES = ("steps", "step_layers", "train_flops")
# The linear model's features, in the order of Costs' fields (after the shared ones).
FEATURES = (
    "run",
    "text_bytes",
    "steps",
    "step_layers",
    "train_flops",
    "eval_batches",
    "eval_batch_layers",
    "eval_flops",
    "probes",
    "probe_layers",
)


def run_work(spec: RunSpec, root: str | Path = ".") -> Work:
    """Count the work of the run ``spec`` describes (train/loop.py's schedule of steps,
    evals and probes; train/evaluate.py's passes over each eval set)."""
    model, t, data = spec.model, spec.train, spec.data
    seq_len = scaled_seq_len(data, 1)
    train_flops = flops_per_token(model, seq_len) * t.steps * t.batch_size * seq_len
    # an eval at every eval_every-th step and at the last; a probe also before step 1
    n_evals = t.steps // t.eval_every + (1 if t.steps % t.eval_every else 0)
    n_probes = 1 + t.steps // t.probe_every + (1 if t.steps % t.probe_every else 0)
    batches, flops = 0, 0.0
    for scale in eval_scales(data):
        n = scaled_seq_len(data, scale)
        longest = POSITION[model.pos].max_len(model)
        if longest is not None and n > longest:
            continue  # skipped, as train/evaluate does: e.g. a learned table's last row
        per_set, seqs = t.eval_batches, t.eval_batches * t.batch_size
        held_out = TASKS[data.task].held_out(data)
        if held_out is not None:  # a fixed held-out set (modadd), split into eval_batches
            per_set, seqs = min(t.eval_batches, held_out), held_out
        batches += n_evals * per_set
        flops += n_evals * seqs * n * flops_per_token(model, n) / 3  # forward only
    return Work(
        steps=t.steps,
        layers=model.n_layer,
        train_flops=train_flops,
        eval_batches=batches,
        eval_flops=flops,
        probes=n_probes,
        text_bytes=sum(_file_bytes(Path(root) / f) for f in corpus_files(data)),
    )


def _file_bytes(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return UNFETCHED_TEXT_BYTES


def features(work: Work) -> dict[str, float]:
    """The run's value of each feature of the linear model (FEATURES)."""
    return {
        "run": 1.0,
        "text_bytes": float(work.text_bytes),
        "steps": float(work.steps),
        "step_layers": float(work.steps * work.layers),
        "train_flops": work.train_flops,
        "eval_batches": float(work.eval_batches),
        "eval_batch_layers": float(work.eval_batches * work.layers),
        "eval_flops": work.eval_flops,
        "probes": float(work.probes),
        "probe_layers": float(work.probes * work.layers),
    }


@dataclasses.dataclass(frozen=True)
class Costs:
    """Seconds per unit of each feature, alone on one core; plus how jobs share cores and
    what the study-level steps cost. Measured by ``ablate.estimate.calibration`` (or
    CONSERVATIVE)."""

    run: float  # per run: its process, model and data set-up, writing the tables (warm start)
    text_bytes: float
    steps: float
    step_layers: float
    train_flops: float  # 1 / achieved training FLOP/s
    eval_batches: float
    eval_batch_layers: float
    eval_flops: float
    probes: float
    probe_layers: float
    # a job's speed while every core is busy, relative to alone (shared caches, memory
    # bandwidth, SMT siblings); more jobs than cores also share the cores in time
    contention: float = 1.0
    study_s: float = 0.0  # the study-level steps after the runs (collect, analyse, report)
    study_run_s: float = 0.0  # ... and their part that grows with each run of the study
    # a fresh interpreter importing torch and the trainer: once per study where commands
    # start warm (the warm server's start), once per run where they cannot (Slurm)
    cold_start: float = 0.0

    def solo_seconds(self, work: Work) -> float:
        """Seconds of one run alone on one core."""
        return sum(getattr(self, name) * value for name, value in features(work).items())

    def train_seconds(self, work: Work) -> float:
        """The training steps' part of solo_seconds (the linear model's price of a step)."""
        return sum(
            getattr(self, name) * value
            for name, value in features(work).items()
            if name in TRAIN_FEATURES
        )

    def study_seconds(self, n_runs: int) -> float:
        return self.study_s + self.study_run_s * n_runs


# For a cluster's time limit when nothing was measured: a slow core and slow start-up (a
# shared filesystem), 5-10x what a 2-core development machine measured. Slurm stops a run
# that outlives its limit (it checkpoints and the retry asks for twice the time), so this
# errs long.
CONSERVATIVE = Costs(
    run=120.0,
    text_bytes=1e-6,
    steps=0.05,
    step_layers=0.01,
    train_flops=1e-10,
    eval_batches=0.01,
    eval_batch_layers=0.005,
    eval_flops=1e-10,
    probes=0.05,
    probe_layers=0.02,
)
