"""What one training run asks a cluster for: time and memory, from its spec alone (no torch).

The workflow's ``train`` rule passes these to Snakemake as resources (workflow/rules/
train.smk); the Slurm profile turns them into ``sbatch -t`` and ``--mem``, and a local run
ignores them. They only have to be safe and roughly proportional, not exact: too little
time and Slurm stops the run (it checkpoints, and the retry asks for twice as long), too
much and the job waits longer in the queue.
"""

from __future__ import annotations

import dataclasses
import functools
import math

from ablate.estimate import calibration
from ablate.estimate.cost import CONSERVATIVE, Costs, run_work
from ablate.model.params import count_params
from ablate.spec.run_spec import RunSpec
from ablate.spec.task_lengths import seq_lens

# Time comes from the one cost model of a run (ablate.estimate.cost, as `ablate estimate` uses it):
# with a calibration of the machine Snakemake runs on cached, SAFETY times its prediction
# (a cluster core may be slower, and Slurm stops a run that outlives its limit); without
# one, cost.CONSERVATIVE, which errs long on its own.
SAFETY = 3.0
MIN_RUNTIME_MIN = 10  # Slurm sends SIGTERM 3 min before the limit: leave time to work
# A run measured ~400 MB RSS before its model and data (Python + torch), ~1.3 GB for
# 3M parameters at batch 32 x 256 tokens.
BASE_MEM_MB = 1000
BYTES = 4  # fp32
# Activations kept for the backward pass per token and layer, in units of d_model (the
# residual stream, q/k/v, attention output, the 4x-wide FFN and its activation, norms).
ACTIVATIONS_PER_D = 16
SCORE_COPIES = 3  # attention scores, their softmax and its gradient, per head and key


def vocab_bound(data) -> int:
    """An upper bound on the vocabulary (the real one is known only once data is loaded):
    bytes for text, the task's symbols plus a few specials for synthetic tasks."""
    return max(256, data.vocab, data.modulus) + 8


def _sizes(spec: RunSpec):
    model, train, data = spec.model, spec.train, spec.data
    model = dataclasses.replace(model, vocab_size=vocab_bound(data))
    lens = seq_lens(data)  # training length first, then the longer eval lengths
    return model, train, lens


@functools.cache
def _time_model() -> tuple[Costs, float]:
    """The cached calibration of this machine with the safety factor, else CONSERVATIVE."""
    cached = calibration.load()
    return (cached[0], SAFETY) if cached else (CONSERVATIVE, 1.0)


def run_seconds(spec: RunSpec, costs: Costs | None = None, factor: float = 1.0) -> float:
    """Seconds to ask for one run: ``costs`` (default: this machine's, see _time_model)
    times ``factor``, from the run's work (ablate.estimate.cost.run_work)."""
    if costs is None:
        costs, factor = _time_model()
    # a Slurm job starts cold: no warm server outlives an allocation
    return (costs.cold_start + costs.solo_seconds(run_work(spec))) * factor


def runtime_minutes(spec: RunSpec, attempt: int = 1) -> int:
    """Slurm time limit in minutes; doubled on each retry (a retry follows a time limit or
    a preemption, and resumes from the checkpoint the run wrote on SIGTERM)."""
    minutes = max(MIN_RUNTIME_MIN, math.ceil(run_seconds(spec) / 60))
    return minutes * 2 ** (attempt - 1)


def memory_mb(spec: RunSpec, attempt: int = 1) -> int:
    """Slurm memory request in MB: Python and torch, the training state, and the larger of
    the training activations and the longest eval's attention scores; grows with retries
    (a retry may follow an out-of-memory kill)."""
    model, train, lens = _sizes(spec)
    params = count_params(model)["total"]
    # weights, gradients and Adam's two moments, and once more while a checkpoint is saved
    state = 2 * 4 * params * BYTES
    batch, seq_len, longest = train.batch_size, lens[0], max(lens)
    per_layer = ACTIVATIONS_PER_D * model.d_model + SCORE_COPIES * model.n_head * seq_len
    train_acts = batch * seq_len * model.n_layer * per_layer * BYTES
    # evals run without gradients, one layer at a time, but at up to 4x the length
    eval_scores = batch * model.n_head * longest * longest * SCORE_COPIES * BYTES
    logits = batch * longest * model.vocab_size * SCORE_COPIES * BYTES
    total = state + max(train_acts, eval_scores) + logits
    return math.ceil((BASE_MEM_MB + total / 2**20) * attempt)
