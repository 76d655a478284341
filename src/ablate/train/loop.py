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
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path

import torch

from ablate.data import build_task
from ablate.io import write_json
from ablate.model import build_model
from ablate.probes.attention import attention_map_rows
from ablate.probes.gradients import layer_snapshot
from ablate.spec import NUMERICS_VERSION, to_configs
from ablate.train.checkpoint import identity, load_checkpoint, remove_checkpoint, save_checkpoint
from ablate.train.device import (
    DeviceUnavailable,
    claimed_device,
    device_name,
    make_deterministic,
    resolve_device,
)
from ablate.train.evaluate import evaluate, probe
from ablate.train.interrupt import Interrupted, stop_requests
from ablate.train.lock import run_lock
from ablate.train.outputs import Recorder
from ablate.train.progress_log import progress_logger
from ablate.train.step import PendingSteps, Stepper, Stop, make_optimizer
from ablate.train.summary import summarise

CHECKPOINT_EVERY = 200  # steps; default of `ablate train --checkpoint-every`
# Per-step metrics stay on the device and are read every this many steps: each read waits
# for the GPU to finish, so reading every step would stall it. On the CPU a read is free,
# and every step is checked at once (the CPU path is the reference).
SYNC_EVERY = {"cpu": 1, "cuda": 16, "mps": 16}


def setup(spec: dict, threads: int, root: str | Path = ".", device=None):
    """Pin threads and determinism, build the task and the seeded model on ``device``."""
    device = torch.device("cpu") if device is None else device
    model_cfg, t, data_cfg, seed, _ = to_configs(spec)
    torch.set_num_threads(threads)
    make_deterministic(device.type)
    task = build_task(data_cfg, str(root))
    model_cfg = dataclasses.replace(model_cfg, vocab_size=task.vocab_size)
    torch.manual_seed(seed)
    model = build_model(model_cfg).to(device)  # initialised on the CPU: same weights anywhere
    autocast = (
        (lambda: torch.autocast(device.type, dtype=torch.bfloat16))
        if t.precision == "bf16"
        else contextlib.nullcontext
    )
    return model, task, t, autocast


@dataclasses.dataclass
class Progress:
    """The loop's counters: with the model, optimizer, RNG and records, all a resume needs."""

    step: int = 0  # last completed step
    initial_loss: float = math.nan
    tokens: int = 0
    train_s: float = 0.0  # seconds inside training steps (for tokens/s)
    elapsed_s: float = 0.0  # wall seconds of earlier attempts (time_s continues from here)
    last_probe: int = 0
    resumed_at: list[int] = dataclasses.field(default_factory=list)


def train_run(
    spec: dict,
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
    if spec.get("device", kind) != kind:  # a device in the spec is part of its identity
        raise DeviceUnavailable(
            f"--device {device}: this run's spec names device {spec['device']!r} "
            "(study key device_in_identity), so it only trains there"
        )
    checkpoint_every = checkpoint_every or CHECKPOINT_EVERY
    with run_lock(out), stop_requests() as stop, claimed_device(kind, gpu_share) as dev:
        return _train(spec, out, threads, root, log, checkpoint_every, stop, dev)


def _train(spec, out, threads, root, log, checkpoint_every, stop, device) -> dict:
    attempt_start = time.perf_counter()
    model, task, t, autocast = setup(spec, threads, root, device)
    optimizer = make_optimizer(model, t)
    eval_sets = [_to(es, device) for es in task.eval_sets(t.batch_size, t.eval_batches)]
    probe_batch = task.probe_batch().to(device)
    log(
        f"run: {model.n_params():,} params ({model.n_params(non_embedding=True):,} non-embedding), "
        f"task {spec['data']['task']}, vocab {task.vocab_size}, {t.steps} steps, "
        f"{threads} thread(s), {device}, numerics v{NUMERICS_VERSION}"
    )

    # the device's kind and model: resuming elsewhere would splice two numerics into one run
    me = identity(spec, device=f"{device.type}: {device_name(device)}")
    saved = load_checkpoint(out, me, log)
    if saved is None:
        records, progress = Recorder(), Progress()
        records.add("probes", probe(model, probe_batch, 0, None, 0, autocast)[0])
        snapshot = layer_snapshot(model)
    else:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        torch.set_rng_state(saved["rng"])
        if device.type == "cuda":
            torch.cuda.set_rng_state(saved["cuda_rng"])
        records, snapshot = Recorder(saved["records"]), saved["snapshot"]
        progress = Progress(**saved["progress"])
        progress.resumed_at.append(progress.step)
        log(f"resumed from step {progress.step} (checkpoint in {out})")

    def elapsed() -> float:
        return progress.elapsed_s + time.perf_counter() - attempt_start

    def checkpoint() -> None:
        state = {
            "identity": me,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "rng": torch.get_rng_state(),
            "records": records.columns,
            "snapshot": snapshot,
            "progress": dataclasses.asdict(dataclasses.replace(progress, elapsed_s=elapsed())),
        }
        if device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state()
        save_checkpoint(out, state)

    pending = PendingSteps(records, progress, t, progress_logger(t.steps, progress.step), log)
    train_step = Stepper(model, optimizer, task, spec["data_seed"], t, autocast)
    sync_every = SYNC_EVERY[device.type]
    stopped, capture = None, None
    for step in range(progress.step + 1, t.steps + 1):
        tick = time.perf_counter()
        try:
            pending.add(train_step(step))
        except torch.OutOfMemoryError as err:  # the run ends here, the study goes on
            stopped = Stop("oom", step, f"out of memory at step {step} on {device}: {err}")
        eval_due, probe_due = step % t.eval_every == 0, step % t.probe_every == 0
        ckpt_due = step % checkpoint_every == 0 or bool(stop)
        due = eval_due or probe_due or ckpt_due or len(pending) >= sync_every
        if due or step == t.steps or stopped:
            stopped = pending.flush(elapsed()) or stopped  # reads the device: a sync
        progress.train_s += time.perf_counter() - tick
        if stopped and stopped.kind == "oom":  # no eval or probe: they would run out too
            log(f"oom: {stopped.reason}")
            _free_memory(device)
            break
        last = step == t.steps or stopped is not None
        if eval_due or last:
            records.add("evals", evaluate(model, eval_sets, step, task.chars_per_token, autocast))
        if probe_due or last:
            rows, capture = probe(
                model, probe_batch, step, snapshot, step - progress.last_probe, autocast
            )
            records.add("probes", rows)
            snapshot, progress.last_probe = layer_snapshot(model), step
        if stopped:
            log(f"{stopped.kind}: {stopped.reason}")
            break
        if stop and not last:
            checkpoint()
            raise Interrupted(stop[0], step)
        if step % checkpoint_every == 0 and not last:
            checkpoint()

    records.add("attn_maps", attention_map_rows(capture) if capture else [])
    summary = summarise(records, progress, model, task, t, stopped, threads, device)
    summary["wall_s"] = elapsed()
    if not summary["initial_loss_ok"]:
        log(
            f"sanity: initial loss {summary['initial_loss']:.3f} is far from ln(vocab) = "
            f"{summary['ln_vocab']:.3f}"
        )
    records.write(out)
    write_json(out / "summary.json", summary)  # last: its presence marks a complete run
    remove_checkpoint(out)
    log(
        f"done: {summary['steps_done']} steps; final val loss "
        f"{summary['final_val_loss']:.4f}; {summary['tokens_per_s']:.0f} tokens/s; "
        f"{summary['wall_s']:.1f} s"
    )
    return summary


def _to(eval_set, device):
    batches = [tuple(t.to(device) for t in batch) for batch in eval_set.batches]
    return dataclasses.replace(eval_set, batches=batches)


def _free_memory(device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
