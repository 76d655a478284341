"""What does each architecture choice cost per training step on CPU?

    PYTHONPATH=src .venv/bin/python bench/bench_axes.py [--steps 10] [--rounds 5]

One training step = forward + cross-entropy + backward + AdamW step, 1 torch thread,
batch 32 x 64 tokens, vocab 65, on the default ModelConfig (d_model 64, 2 layers, 4
heads, mha, learned, layernorm, pre, gelu) and on one-key changes of it. Each variant is
timed in fp32 and under torch.autocast("cpu", bfloat16). Variants are timed round-robin
(``rounds`` passes over all of them; per variant the best round's median step time) so
that load from other processes on a shared machine hits them alike; the ratio to the
baseline is the number to read.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import statistics
import time

import torch

from ablate.model.transformer import build_model
from ablate.spec.config import ModelConfig
from ablate.spec.registry import CHOICES

BASE = ModelConfig(vocab_size=65)
# every registered value of every model axis (so a new registry entry is benchmarked
# too), plus the boolean / numeric options
VARIANTS = {"baseline": {}}
for _dotted, _registry in CHOICES.items():
    _section, _key = _dotted.split(".")
    for _name in _registry if _section == "model" else []:
        if _name != getattr(BASE, _key):
            extra = {"n_kv_head": 2} if _name == "gqa" else {}
            VARIANTS[f"{_key}={_name}"] = {_key: _name} | extra
VARIANTS |= {
    "qk_norm": dict(qk_norm=True),
    "window=16": dict(window=16),
    "ffn=swiglu matched": dict(ffn="swiglu", ffn_match_params=True),
    "tie_head=false": dict(tie_head=False),
    "bias=true": dict(bias=True),
}


def step_times(cfg: ModelConfig, bf16: bool, steps: int, batch: int, seq: int) -> list[float]:
    model = build_model(cfg, generator=torch.Generator().manual_seed(0)).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, foreach=True)
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, cfg.vocab_size, (batch, seq), generator=g)
    y = torch.randint(0, cfg.vocab_size, (batch, seq), generator=g)
    autocast = (
        (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    )
    times = []
    for i in range(steps + 3):  # 3 warm-up steps
        tick = time.perf_counter()
        with autocast():
            logits = model(x)
        loss = torch.nn.functional.cross_entropy(
            logits.float().view(-1, cfg.vocab_size), y.view(-1)
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= 3:
            times.append(time.perf_counter() - tick)
    return times


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=64)
    args = p.parse_args()
    torch.set_num_threads(1)
    rounds: dict[tuple[str, bool], list[float]] = {}  # per-round median step time
    for _ in range(args.rounds):
        for name, overrides in VARIANTS.items():
            cfg = dataclasses.replace(BASE, **overrides)
            for bf16 in (False, True):
                t = step_times(cfg, bf16, args.steps, args.batch, args.seq)
                rounds.setdefault((name, bf16), []).append(statistics.median(t))
    # other processes only ever add time: the least-disturbed round is the best estimate
    med = {key: min(t) * 1e3 for key, t in rounds.items()}
    tokens = args.batch * args.seq
    print(
        f"per-step time, 1 thread, batch {args.batch} x {args.seq} tokens "
        f"(ms: best of {args.rounds} rounds of the median of {args.steps} steps)"
    )
    print(
        f"{'variant':24s} {'fp32 ms':>8s} {'x base':>7s} {'tok/s':>7s} "
        f"{'bf16 ms':>8s} {'x base':>7s} {'bf16/fp32':>9s}"
    )
    for name in VARIANTS:
        f32, b16 = med[(name, False)], med[(name, True)]
        print(
            f"{name:24s} {f32:8.1f} {f32 / med[('baseline', False)]:7.2f} "
            f"{tokens / f32 * 1e3:7.0f} {b16:8.1f} {b16 / med[('baseline', True)]:7.2f} "
            f"{b16 / f32:9.2f}"
        )


if __name__ == "__main__":
    main()
