"""A finished run's summary.json: what it measured, one number per fact (tables.SUMMARY).

What follows from the spec by formula (FLOPs) is not here either: collect derives it
(tables.DERIVED), so a corrected formula needs no retraining.

The status (ok, stalled, ...) is not here: collect judges it from these numbers and the
run's tables with the study's rules (probes/status.py).
"""

from __future__ import annotations

import math
import os
import socket
import statistics

import torch

from ablate.spec.registry import PRECISION
from ablate.spec.run_spec import NUMERICS_VERSION
from ablate.train.device import device_name

INITIAL_LOSS_TOLERANCE = 0.25  # nats: |initial loss - ln V| above this is flagged


def summarise(records, progress, model, task, t, stopped, threads, device) -> dict:
    """What the run measured (tables.SUMMARY); the status is judged later, by collect."""
    losses = records.column("steps", "loss")
    steps_done = len(losses)
    finite = [v for v in losses if math.isfinite(v)]
    tail = finite[-max(1, steps_done // 10) :] if finite else [math.nan]
    evals = records.columns["evals"]
    at_train_len = [i for i, n in enumerate(evals["seq_len"]) if n == task.seq_len]
    last_eval = at_train_len[-1] if at_train_len else None
    norms = [v for v in records.column("steps", "grad_norm") if math.isfinite(v)] or [math.nan]
    probes = records.columns["probes"]
    last_probe = [i for i, s in enumerate(probes["step"]) if s == progress.last_probe]

    def final_attn(metric: str) -> list[float]:
        values = (probes["value"][i] for i in last_probe if probes["metric"][i] == metric)
        return [v for v in values if math.isfinite(v)]

    ln_vocab = math.log(task.vocab_size)
    return {
        "steps_done": steps_done,
        "stopped": stopped.kind if stopped else "",
        "stopped_step": stopped.step if stopped else -1,
        "stopped_reason": stopped.reason if stopped else "",
        "n_params": model.n_params(),
        "n_params_non_embedding": model.n_params(non_embedding=True),
        "initial_loss": progress.initial_loss,
        "ln_vocab": ln_vocab,
        "initial_loss_ok": bool(abs(progress.initial_loss - ln_vocab) <= INITIAL_LOSS_TOLERANCE),
        "baseline_loss": task.baseline_loss,
        "final_train_loss": sum(tail) / len(tail),
        "final_val_loss": evals["loss"][last_eval] if last_eval is not None else math.nan,
        "final_val_acc": evals["token_acc"][last_eval] if last_eval is not None else math.nan,
        "best_val_loss": min((evals["loss"][i] for i in at_train_len), default=math.nan),
        "n_clipped": sum(records.column("steps", "clipped")),
        "max_grad_norm": max(norms),
        "median_grad_norm": statistics.median(norms),
        "final_attn_entropy_min": min(final_attn("attn_entropy"), default=math.nan),
        "final_attn_logit_max": max(final_attn("attn_logit_max"), default=math.nan),
        "tokens": progress.tokens,
        "tokens_per_s": progress.tokens / progress.train_s if progress.train_s > 0 else math.nan,
        "threads": threads,
        "device": device.type,
        "device_name": device_name(device),
        "dtype": f"{t.precision}-autocast" if PRECISION[t.precision].autocast else t.precision,
        "torch_version": torch.__version__,
        "numerics_version": NUMERICS_VERSION,
        "resumed_at": ",".join(map(str, progress.resumed_at)),
        "host": socket.gethostname(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID", ""),
    }
