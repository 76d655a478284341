"""Train one run from its spec and write its tables: the heart of the lab.

Determinism: the init seed seeds torch once at the start (model init, dropout); batches
are a pure function of (task, data_seed, step), made on the CPU so every device sees the
same data, and every variant with the same seed sees the same data in the same order;
torch runs deterministic kernels on a pinned number of threads (1 and 2 threads give
different bits, so the thread count is part of the promise; on a GPU, the GPU model).

Nothing lost: every ``checkpoint_every`` steps, and when SIGTERM or SIGINT arrives (what
Slurm sends before preemption and at its time limit), the run saves a checkpoint
(train/checkpoint.py) and a rerun resumes from it, writing the same tables as a run that
was never interrupted. One process trains a run directory at a time (train/lock.py).

The run records only what it measures; its status (ok, stalled, ...) is judged later by
collect (probes/status.py), so a new rule never retrains anything.

The parts, in order: ``setup`` (threads, determinism, task, seeded model), ``_start`` (an
``Attempt``: fresh, or resumed from the checkpoint), ``_step_loop`` (train, read back,
evaluate, probe, checkpoint), ``_finish`` (samples, model.safetensors, summary, tables,
summary.json last). The samples and the saved model come after the last step, evaluation
and probe, and draw nothing from torch's RNG: they change no number the run records.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import torch

from ablate.data.build import build_task
from ablate.model.transformer import build_model
from ablate.probes.attention_stats import attention_map_rows
from ablate.spec.registry import PRECISION
from ablate.spec.run_spec import NUMERICS_VERSION, RunSpec, spec_hash
from ablate.train.attempt import Attempt
from ablate.train.checkpoint import identity, load_checkpoint, remove_checkpoint
from ablate.train.device import (
    DeviceUnavailable,
    claimed_device,
    device_name,
    free_memory,
    make_deterministic,
    resolve_device,
)
from ablate.train.finished import KEPT, finish, restore
from ablate.train.interrupt import Interrupted, stop_requests
from ablate.train.lock import run_lock
from ablate.train.progress_log import progress_logger
from ablate.train.sampling import sample_rows
from ablate.train.saved_model import save_model_file
from ablate.train.step import PendingSteps, Stepper, Stop, make_optimizer
from ablate.train.summary import summarise

CHECKPOINT_EVERY = 200  # steps; default of `ablate train --checkpoint-every`
# Per-step metrics stay on the device and are read every this many steps: each read waits
# for the GPU to finish, so reading every step would stall it. On the CPU a read is free,
# and every step is checked at once (the CPU path is the reference).
SYNC_EVERY = {"cpu": 1, "cuda": 16, "mps": 16}


def setup(spec: RunSpec, threads: int, root: str | Path = ".", device=None, task=None):
    """Pin threads and determinism, build the task (unless given: one built before from
    the same data config) and the seeded model on ``device``."""
    device = torch.device("cpu") if device is None else device
    torch.set_num_threads(threads)
    make_deterministic(device.type)
    task = build_task(spec.data, str(root)) if task is None else task
    model_cfg = dataclasses.replace(spec.model, vocab_size=task.vocab_size)
    torch.manual_seed(spec.seed)
    model = build_model(model_cfg).to(device)  # initialised on the CPU: same weights anywhere
    dtype = PRECISION[spec.train.precision].autocast  # e.g. "bfloat16", or None: fp32
    autocast = (
        (lambda: torch.autocast(device.type, dtype=getattr(torch, dtype)))
        if dtype
        else contextlib.nullcontext
    )
    return model, task, spec.train, autocast


def train_run(
    spec: RunSpec,
    out_dir: str | Path,
    threads: int = 1,
    root: str | Path = ".",
    log: Callable[[str], None] = print,
    checkpoint_every: int | None = None,
    device: str = "auto",
    gpu_share: int = 1,
) -> dict:
    """Train the run described by ``spec`` into ``out_dir`` (resuming from its checkpoint if
    it has one); write its tables and return the summary. Raises lock.RunLocked if another
    process trains the same directory, Interrupted after checkpointing on SIGTERM/SIGINT,
    device.DeviceUnavailable before anything else if ``device`` is not here."""
    out = Path(out_dir)
    kind = resolve_device(device)
    if spec.device not in (None, kind):  # a device in the spec is part of its identity
        raise DeviceUnavailable(
            f"--device {device}: this run's spec names device {spec.device!r} "
            "(study key device_in_identity), so it only trains there"
        )
    with run_lock(out):
        kept = restore(out, spec_hash(spec))
        if kept is not None:  # finished before, its job not seen to end (train/finished.py)
            log(f"restored: the run had finished; its files are back from {out / KEPT}")
            return kept
        with stop_requests() as stop, claimed_device(kind, gpu_share) as dev:
            return _train(spec, out, threads, root, dev, log, checkpoint_every, stop)


def _train(spec, out, threads, root, dev, log, checkpoint_every, stop) -> dict:
    attempt = _start(spec, out, threads, root, dev, log)
    stopped, capture = _step_loop(attempt, checkpoint_every or CHECKPOINT_EVERY, stop, log)
    return _finish(attempt, stopped, capture, threads, log)


def _start(spec: RunSpec, out: Path, threads, root, device, log) -> Attempt:
    """Set up, then start fresh (probing the model at init) or resume from the checkpoint."""
    started = time.perf_counter()
    model, task, t, autocast = setup(spec, threads, root, device)
    attempt = Attempt(
        spec=spec,
        out=out,
        t=t,
        model=model,
        optimizer=make_optimizer(model, t),
        task=task,
        autocast=autocast,
        device=device,
        eval_sets=[_to(es, device) for es in task.eval_sets(t.batch_size, t.eval_batches)],
        probe_batch=task.probe_batch().to(device),
        # the device's kind and model: resuming elsewhere would splice two numerics into one
        identity=identity(spec, device=f"{device.type}: {device_name(device)}"),
        started=started,
    )
    log(
        f"run: {model.n_params():,} params ({model.n_params(non_embedding=True):,} non-embedding), "
        f"task {spec.data.task}, vocab {task.vocab_size}, {t.steps} steps, "
        f"{threads} thread(s), {device}, numerics v{NUMERICS_VERSION}"
    )
    saved = load_checkpoint(out, attempt.identity, log)
    if saved is None:
        attempt.probe(0)
    else:
        attempt.resume(saved)
        log(f"resumed from step {attempt.progress.step} (checkpoint in {out})")
    return attempt


def _step_loop(run: Attempt, checkpoint_every: int, stop: list, log) -> tuple[Stop | None, dict]:
    """Train the remaining steps. Returns why training stopped early (None if it did not)
    and the attention capture of the last probe; raises Interrupted after a checkpoint."""
    t, progress = run.t, run.progress
    pending = PendingSteps(run.records, progress, t, progress_logger(t.steps, progress.step), log)
    train_step = Stepper(run.model, run.optimizer, run.task, run.spec.data_seed, t, run.autocast)
    sync_every = SYNC_EVERY[run.device.type]
    stopped, capture = None, None
    for step in range(progress.step + 1, t.steps + 1):
        tick = time.perf_counter()
        try:
            pending.add(train_step(step))
        except torch.OutOfMemoryError as err:  # the run ends here, the study goes on
            stopped = Stop("oom", step, f"out of memory at step {step} on {run.device}: {err}")
        eval_due, probe_due = step % t.eval_every == 0, step % t.probe_every == 0
        ckpt_due = step % checkpoint_every == 0 or bool(stop)
        due = eval_due or probe_due or ckpt_due or len(pending) >= sync_every
        if due or step == t.steps or stopped:
            stopped = pending.flush(run.elapsed()) or stopped  # reads the device: a sync
        progress.train_s += time.perf_counter() - tick
        if stopped and stopped.kind == "oom":  # no eval or probe: they would run out too
            log(f"oom: {stopped.reason}")
            free_memory(run.device)
            break
        last = step == t.steps or stopped is not None
        if eval_due or last:
            run.evaluate(step)
        if probe_due or last:
            capture = run.probe(step)
        if stopped:
            log(f"{stopped.kind}: {stopped.reason}")
            break
        if stop and not last:
            run.checkpoint()
            raise Interrupted(stop[0], step)
        if step % checkpoint_every == 0 and not last:
            run.checkpoint()
    return stopped, capture


def _finish(run: Attempt, stopped: Stop | None, capture, threads: int, log) -> dict:
    """Sample, save the weights, summarise, write the tables, then summary.json (last: it
    marks a complete run)."""
    run.records.add("attn_maps", attention_map_rows(capture) if capture else [])
    try:
        run.records.add("samples", sample_rows(run.model, run.task, run.spec.seed, run.autocast))
    except torch.OutOfMemoryError as err:  # the run's numbers stand without its samples
        log(f"samples: out of memory on {run.device}: {err}")
        free_memory(run.device)
    save_model_file(run.out, run.model, run.spec)
    summary = summarise(
        run.records, run.progress, run.model, run.task, run.t, stopped, threads, run.device
    )
    summary["wall_s"] = run.elapsed()
    if not summary["initial_loss_ok"]:
        log(
            f"sanity: initial loss {summary['initial_loss']:.3f} is far from ln(vocab) = "
            f"{summary['ln_vocab']:.3f}"
        )
    run.records.write(run.out)
    finish(run.out, summary, run.spec.to_dict())  # summary.json last
    remove_checkpoint(run.out)
    log(
        f"done: {summary['steps_done']} steps; final val loss "
        f"{summary['final_val_loss']:.4f}; {summary['tokens_per_s']:.0f} tokens/s; "
        f"{summary['wall_s']:.1f} s"
    )
    return summary


def _to(eval_set, device):
    batches = [tuple(t.to(device) for t in batch) for batch in eval_set.batches]
    return dataclasses.replace(eval_set, batches=batches)
