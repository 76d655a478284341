"""Training throughput on one thread: the lab in fp32 and bf16, and nanoGPT side by side.

    python bench/bench_throughput.py [--nanogpt DIR] [--steps 200] [--shape default|baby]

Shapes: ``default`` is the default study's baseline (2 layers x 64, 4 heads, block 64,
batch 32); ``baby`` is nanoGPT's CPU "baby" run (4 layers x 128, 4 heads, block 64, batch
12). For each, the lab trains the real run (``ablate.train.loop.train_run``: probes, evals
and checkpoints as a study runs them) in fp32 and in bf16 autocast, and reports tokens/s
of its training steps and the final validation loss. With ``--nanogpt DIR`` (a checkout of
karpathy/nanoGPT: its ``model.py`` is imported from there, never copied here) its GPT trains
the same shape on the same Shakespeare characters with AdamW and gradient clipping, as its
train.py does, and the ratio lab/nanoGPT is printed. Everything runs in this one process,
one after another, so the ratios are measured in one session. Needs resources/shakespeare_char
(``ablate fetch shakespeare_char --out resources/shakespeare_char``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from ablate.data.build import build_task
from ablate.spec.run_spec import resolve_spec
from ablate.train.loop import train_run

SHAPES = {  # d_model, n_layer, n_head, block, batch, lr
    "default": (64, 2, 4, 64, 32, 3e-3),
    "baby": (128, 4, 4, 64, 12, 1e-3),
}


def lab_spec(shape: str, steps: int, precision: str):
    d, layers, heads, block, batch, lr = SHAPES[shape]
    return resolve_spec(
        {
            "model": {"d_model": d, "n_layer": layers, "n_head": heads, "context": block},
            "train": {"steps": steps, "batch_size": batch, "lr": lr, "warmup_steps": 10,
                      "eval_every": max(1, steps // 4), "probe_every": max(1, steps // 4),
                      "precision": precision},
            "data": {"task": "shakespeare_char", "seq_len": block},
        },
        seed=0,
    )  # fmt: skip


def lab(shape: str, steps: int, precision: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        summary = train_run(lab_spec(shape, steps, precision), tmp, log=lambda m: None)
    return {"tokens_per_s": summary["tokens_per_s"], "val_loss": summary["final_val_loss"]}


def nanogpt(shape: str, steps: int, checkout: Path) -> dict:
    spec = importlib.util.spec_from_file_location("nanogpt_model", checkout / "model.py")
    model_py = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(model_py)
    d, layers, heads, block, batch, lr = SHAPES[shape]
    task = build_task(lab_spec(shape, steps, "fp32").data, ".")
    torch.manual_seed(0)
    config = model_py.GPTConfig(block_size=block, vocab_size=task.vocab_size, n_layer=layers,
                                n_head=heads, n_embd=d, dropout=0.0, bias=False)  # fmt: skip
    model = model_py.GPT(config)
    optimizer = model.configure_optimizers(0.1, lr, (0.9, 0.99), "cpu")
    data = task.train
    generator = torch.Generator().manual_seed(0)
    tokens, seconds = 0, 0.0
    for _ in range(steps):
        starts = torch.randint(len(data) - block - 1, (batch,), generator=generator)
        x = torch.stack([data[i : i + block] for i in starts]).long()
        y = torch.stack([data[i + 1 : i + 1 + block] for i in starts]).long()
        tick = time.perf_counter()
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        seconds += time.perf_counter() - tick
        tokens += batch * block
    return {"tokens_per_s": tokens / seconds, "train_loss": float(loss)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nanogpt", type=Path, help="a checkout of karpathy/nanoGPT")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--shape", choices=sorted(SHAPES), action="append")
    args = p.parse_args()
    torch.set_num_threads(1)
    out = {"cpu_bf16": torch.backends.cpu.get_cpu_capability()}
    for shape in args.shape or sorted(SHAPES):
        row = {precision: lab(shape, args.steps, precision) for precision in ("fp32", "bf16")}
        row["bf16_over_fp32"] = row["bf16"]["tokens_per_s"] / row["fp32"]["tokens_per_s"]
        if args.nanogpt:
            row["nanogpt_fp32"] = nanogpt(shape, args.steps, args.nanogpt)
            row["lab_fp32_over_nanogpt"] = (
                row["fp32"]["tokens_per_s"] / row["nanogpt_fp32"]["tokens_per_s"]
            )
        out[shape] = row
        print(json.dumps({shape: row}), flush=True, file=sys.stderr)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
