"""Train one run from its spec and write its tables: the heart of the lab.

Determinism: the init seed seeds torch once at the start (model init, dropout); batches
are a pure function of (task, data_seed, step), so every variant with the same seed sees
the same data in the same order; torch runs deterministic kernels on a pinned number of
threads (1 and 2 threads give different bits, so the thread count is part of the promise).

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
from ablate.probes.gradients import group_grad_norms, layer_snapshot
from ablate.probes.status import divergence
from ablate.spec import NUMERICS_VERSION, to_configs
from ablate.train.checkpoint import identity, load_checkpoint, remove_checkpoint, save_checkpoint
from ablate.train.evaluate import evaluate, masked_loss, probe
from ablate.train.interrupt import Interrupted, stop_requests
from ablate.train.lock import run_lock
from ablate.train.outputs import Recorder
from ablate.train.progress_log import progress_logger
from ablate.train.schedule import lr_at
from ablate.train.summary import summarise

CHECKPOINT_EVERY = 200  # steps; default of `ablate train --checkpoint-every`


def make_optimizer(model: torch.nn.Module, t) -> torch.optim.Optimizer:
    """AdamW; weight decay on matrices only (not on gains and biases), as in nanoGPT."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": t.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=t.lr, betas=(t.beta1, t.beta2), foreach=True)


def setup(spec: dict, threads: int, root: str | Path = "."):
    """Pin threads and determinism, build the task and the seeded model."""
    model_cfg, t, data_cfg, seed, _ = to_configs(spec)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    task = build_task(data_cfg, str(root))
    model_cfg = dataclasses.replace(model_cfg, vocab_size=task.vocab_size)
    torch.manual_seed(seed)
    model = build_model(model_cfg)
    autocast = (
        (lambda: torch.autocast("cpu", dtype=torch.bfloat16))
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
) -> dict:
    """Train the run described by ``spec`` into ``out_dir`` (resuming from its checkpoint if
    it has one); write its tables and return the summary. Raises lock.RunLocked if another
    process trains the same directory, Interrupted after checkpointing on SIGTERM/SIGINT."""
    out = Path(out_dir)
    checkpoint_every = checkpoint_every or CHECKPOINT_EVERY
    with run_lock(out), stop_requests() as stop:
        return _train(spec, out, threads, root, log, checkpoint_every, stop)


def _train(spec, out, threads, root, log, checkpoint_every, stop) -> dict:
    attempt_start = time.perf_counter()
    model, task, t, autocast = setup(spec, threads, root)
    data_seed = spec["data_seed"]
    optimizer = make_optimizer(model, t)
    groups = model.module_groups()
    eval_sets = task.eval_sets(t.batch_size, t.eval_batches)
    probe_batch = task.probe_batch()
    params = [p for p in model.parameters() if p.requires_grad]
    log(
        f"run: {model.n_params():,} params ({model.n_params(non_embedding=True):,} non-embedding), "
        f"task {spec['data']['task']}, vocab {task.vocab_size}, {t.steps} steps, "
        f"{threads} thread(s), numerics v{NUMERICS_VERSION}"
    )

    me = identity(spec, device="cpu")
    saved = load_checkpoint(out, me, log)
    if saved is None:
        records, progress = Recorder(), Progress()
        rows, capture = probe(model, probe_batch, 0, None, 0, autocast)
        records.add("probes", rows)
        snapshot = layer_snapshot(model)
    else:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        torch.set_rng_state(saved["rng"])
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
        save_checkpoint(out, state)

    diverged, capture = None, None
    bar = progress_logger(t.steps, start=progress.step)
    for step in range(progress.step + 1, t.steps + 1):
        tick = time.perf_counter()
        lr = lr_at(step, t)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y, mask = task.train_batch(data_seed, step, t.batch_size)
        with autocast():
            logits = model(x)
        loss, ce = masked_loss(logits, y, mask, t.z_loss)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        by_group = group_grad_norms(groups)
        max_norm = t.grad_clip if t.grad_clip > 0 else math.inf
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=True))
        if math.isfinite(grad_norm):
            optimizer.step()
        progress.train_s += time.perf_counter() - tick
        progress.tokens += x.numel()

        ce_value = float(ce.detach())
        if step == 1:
            progress.initial_loss = ce_value
        records.add("steps", [_step_row(step, ce_value, lr, grad_norm, t, progress, elapsed())])
        records.add(
            "grads",
            [
                {"step": step, "layer": layer, "module": kind, "grad_norm": norm}
                for (layer, kind), norm in by_group.items()
            ],
        )
        diverged = divergence(ce_value, progress.initial_loss, t.diverge_factor, step)
        if diverged is None and not math.isfinite(grad_norm):
            diverged = divergence(grad_norm, progress.initial_loss, t.diverge_factor, step)
        last = step == t.steps or diverged is not None
        if step % t.eval_every == 0 or last:
            records.add("evals", evaluate(model, eval_sets, step, task.chars_per_token, autocast))
        if step % t.probe_every == 0 or last:
            rows, capture = probe(
                model, probe_batch, step, snapshot, step - progress.last_probe, autocast
            )
            records.add("probes", rows)
            snapshot, progress.last_probe = layer_snapshot(model), step
        progress.step = step
        bar(step, ce_value, lr, grad_norm, log)
        if diverged is not None:
            log(f"diverged: {diverged.reason}")
            break
        if stop and not last:
            checkpoint()
            raise Interrupted(stop[0], step)
        if step % checkpoint_every == 0 and not last:
            checkpoint()

    records.add("attn_maps", attention_map_rows(capture))
    summary = summarise(records, progress, model, task, diverged, threads)
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


def _step_row(step, loss, lr, grad_norm, t, progress, elapsed) -> dict:
    return {
        "step": step,
        "loss": loss,
        "lr": lr,
        "grad_norm": grad_norm,
        "clipped": bool(t.grad_clip > 0 and grad_norm > t.grad_clip),
        "tokens": progress.tokens,
        "time_s": elapsed,
    }
