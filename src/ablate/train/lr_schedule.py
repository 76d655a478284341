"""Learning-rate schedule: linear warmup, then cosine decay to lr * min_lr_ratio."""

from __future__ import annotations

import math

from ablate.spec.config import TrainConfig


def lr_at(step: int, t: TrainConfig) -> float:
    """Learning rate for optimizer step ``step`` (1-based)."""
    if t.warmup_steps > 0 and step <= t.warmup_steps:
        return t.lr * step / t.warmup_steps
    decay_steps = max(t.steps - t.warmup_steps, 1)
    progress = min(max(step - t.warmup_steps, 0) / decay_steps, 1.0)
    min_lr = t.lr * t.min_lr_ratio
    return min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (t.lr - min_lr)
