"""Train one run from its spec and write its tables: the heart of the lab.

Determinism: the init seed seeds torch once at the start (model init, dropout); batches
are a pure function of (task, data_seed, step), so every variant with the same seed sees
the same data in the same order; torch runs deterministic kernels on a pinned number of
threads (1 and 2 threads give different bits, so the thread count is part of the promise).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from ablate.data import build_task
from ablate.model import build_model
from ablate.probes.attention import attention_map_rows
from ablate.probes.gradients import group_grad_norms, layer_snapshot
from ablate.probes.spikes import SpikeDetector
from ablate.probes.status import classify, divergence
from ablate.spec import to_configs
from ablate.train.evaluate import evaluate, masked_loss, probe
from ablate.train.outputs import write_json, write_table
from ablate.train.schedule import lr_at

INITIAL_LOSS_TOLERANCE = 0.25  # nats: |initial loss - ln V| above this is flagged


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


def train_run(
    spec: dict,
    out_dir: str | Path,
    threads: int = 1,
    root: str | Path = ".",
    log: Callable[[str], None] = print,
) -> dict:
    """Train the run described by ``spec``; write its tables into ``out_dir``; return summary."""
    wall_start = time.perf_counter()
    out = Path(out_dir)
    model, task, t, autocast = setup(spec, threads, root)
    data_seed = spec["data_seed"]
    optimizer = make_optimizer(model, t)
    groups = model.module_groups()
    eval_sets = task.eval_sets(t.batch_size, t.eval_batches)
    probe_batch = task.probe_batch()
    params = [p for p in model.parameters() if p.requires_grad]
    ln_vocab = math.log(task.vocab_size)
    log(
        f"run: {model.n_params():,} params ({model.n_params(non_embedding=True):,} non-embedding), "
        f"task {spec['data']['task']}, vocab {task.vocab_size}, {t.steps} steps, "
        f"{threads} thread(s)"
    )

    steps, grads, evals = [], [], []
    probes, layer_entropy, capture = _probe(model, probe_batch, 0, t, None, 0, autocast)
    snapshot, last_probe = layer_snapshot(model), 0
    loss_spikes, grad_spikes = (
        SpikeDetector(t.spike_window, t.spike_k),
        SpikeDetector(t.spike_window, t.spike_k),
    )
    initial_loss, diverged, train_time, tokens = math.nan, None, 0.0, 0
    spike_steps: list[int] = []
    bar = _progress(t.steps)
    for step in range(1, t.steps + 1):
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
        train_time += time.perf_counter() - tick
        tokens += x.numel()

        ce_value = float(ce.detach())
        if step == 1:
            initial_loss = ce_value
        loss_spike = loss_spikes.update(ce_value)
        if loss_spike:
            spike_steps.append(step)
        steps.append(
            {
                "step": step,
                "loss": ce_value,
                "lr": lr,
                "grad_norm": grad_norm,
                "clipped": bool(t.grad_clip > 0 and grad_norm > t.grad_clip),
                "loss_spike": loss_spike,
                "grad_spike": grad_spikes.update(grad_norm),
                "tokens": tokens,
                "time_s": time.perf_counter() - wall_start,
            }
        )
        grads += [
            {"step": step, "layer": layer, "module": kind, "grad_norm": norm}
            for (layer, kind), norm in by_group.items()
        ]
        diverged = divergence(ce_value, initial_loss, t.diverge_factor, step)
        if diverged is None and not math.isfinite(grad_norm):
            diverged = divergence(grad_norm, initial_loss, t.diverge_factor, step)
        last = step == t.steps or diverged is not None
        if step % t.eval_every == 0 or last:
            evals += evaluate(model, eval_sets, step, task.chars_per_token, autocast)
        if step % t.probe_every == 0 or last:
            rows, layer_entropy, capture = _probe(
                model, probe_batch, step, t, snapshot, step - last_probe, autocast
            )
            probes += rows
            snapshot, last_probe = layer_snapshot(model), step
        bar(step, ce_value, lr, grad_norm, log)
        if diverged is not None:
            log(f"diverged: {diverged.reason}")
            break

    steps_done = len(steps)
    finite = [r["loss"] for r in steps if math.isfinite(r["loss"])]
    tail = finite[-max(1, steps_done // 10) :] if finite else [math.nan]
    final_train_loss = sum(tail) / len(tail)
    outcome = classify(
        diverged=diverged,
        final_train_loss=final_train_loss,
        initial_loss=initial_loss,
        baseline_loss=task.baseline_loss,
        stall_fraction=t.stall_fraction,
        steps_done=steps_done,
        spike_steps=spike_steps,
        max_spikes=t.max_spikes,
        layer_entropy=layer_entropy,
        collapse_threshold=t.collapse_threshold,
        probe_step=last_probe,
    )
    at_train_len = [r for r in evals if r["seq_len"] == task.seq_len]
    last_eval = at_train_len[-1] if at_train_len else {"loss": math.nan, "token_acc": math.nan}
    grad_norms = [r["grad_norm"] for r in steps if math.isfinite(r["grad_norm"])] or [math.nan]
    last_attn = [r for r in probes if r["step"] == last_probe]
    n_nonemb = model.n_params(non_embedding=True)
    summary = {
        "status": outcome.status,
        "reason": outcome.reason,
        "status_step": outcome.step,
        "steps_done": steps_done,
        "n_params": model.n_params(),
        "n_params_non_embedding": n_nonemb,
        "initial_loss": initial_loss,
        "ln_vocab": ln_vocab,
        "initial_loss_ok": bool(abs(initial_loss - ln_vocab) <= INITIAL_LOSS_TOLERANCE),
        "baseline_loss": task.baseline_loss,
        "final_train_loss": final_train_loss,
        "final_val_loss": last_eval["loss"],
        "final_val_acc": last_eval["token_acc"],
        "best_val_loss": min((r["loss"] for r in at_train_len), default=math.nan),
        "n_loss_spikes": len(spike_steps),
        "n_grad_spikes": sum(r["grad_spike"] for r in steps),
        "n_clipped": sum(r["clipped"] for r in steps),
        "max_grad_norm": max(grad_norms),
        "median_grad_norm": statistics.median(grad_norms),
        "final_attn_entropy_min": min(_finite(last_attn, "attn_entropy"), default=math.nan),
        "final_attn_logit_max": max(_finite(last_attn, "attn_logit_max"), default=math.nan),
        "tokens": tokens,
        "flops": 6.0 * n_nonemb * tokens,
        "tokens_per_s": tokens / train_time if train_time > 0 else math.nan,
        "wall_s": time.perf_counter() - wall_start,
        "threads": threads,
        "torch_version": torch.__version__,
    }
    if not summary["initial_loss_ok"]:
        log(f"sanity: initial loss {initial_loss:.3f} is far from ln(vocab) = {ln_vocab:.3f}")
    out.mkdir(parents=True, exist_ok=True)
    write_table(out / "steps.parquet", "steps", steps)
    write_table(out / "evals.parquet", "evals", evals)
    write_table(out / "grads.parquet", "grads", grads)
    write_table(out / "probes.parquet", "probes", probes)
    write_table(out / "attn_maps.parquet", "attn_maps", attention_map_rows(capture))
    write_json(out / "summary.json", summary)  # last: its presence marks a complete run
    log(
        f"done: status {outcome.status} {outcome.reason}; final val loss "
        f"{summary['final_val_loss']:.4f}; {summary['tokens_per_s']:.0f} tokens/s; "
        f"{summary['wall_s']:.1f} s"
    )
    return summary


def _probe(model, batch, step, t, snapshot, steps_since, autocast):
    return probe(model, batch, step, t.collapse_threshold, snapshot, steps_since, autocast)


def _finite(rows: list[dict], metric: str) -> list[float]:
    return [r["value"] for r in rows if r["metric"] == metric and math.isfinite(r["value"])]


def _progress(total: int):
    """A tqdm bar on a terminal, plain log lines (about 20 per run) otherwise."""
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=total, unit="step", dynamic_ncols=True)

        def update(step, loss, lr, gnorm, log):
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}", lr=f"{lr:.1e}", gnorm=f"{gnorm:.2f}")
            if step == total:
                bar.close()

        return update
    every = max(1, total // 20)

    def line(step, loss, lr, gnorm, log):
        if step % every == 0 or step == 1 or step == total:
            log(f"step {step}/{total} loss {loss:.4f} lr {lr:.2e} grad_norm {gnorm:.3f}")

    return line
