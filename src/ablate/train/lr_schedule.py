"""Learning-rate schedules (``train.schedule``, registry.SCHEDULE), each a function of the
1-based optimizer step and the train config; both warm up linearly over warmup_steps and
end at lr * min_lr_ratio.

    cosine   cosine decay from lr to the floor over the steps after warmup
    wsd      warmup-stable-decay (Hagele et al. 2024, "Scaling Laws and Compute-Optimal
             Training Beyond Fixed Training Durations"): constant lr after warmup, then a
             linear decay to the floor over the last ``decay_fraction`` of the steps. The
             stable phase does not depend on the run's length, so one run's checkpoints
             before the decay serve shorter budgets.
"""

from __future__ import annotations

import math

from ablate.spec.config import TrainConfig
from ablate.spec.registry import SCHEDULE, resolve


def lr_at(step: int, t: TrainConfig) -> float:
    """Learning rate for optimizer step ``step`` (1-based)."""
    if t.warmup_steps > 0 and step <= t.warmup_steps:
        return t.lr * step / t.warmup_steps
    return resolve(SCHEDULE, t.schedule)(step, t)


def cosine(step: int, t: TrainConfig) -> float:
    decay_steps = max(t.steps - t.warmup_steps, 1)
    progress = min(max(step - t.warmup_steps, 0) / decay_steps, 1.0)
    min_lr = t.lr * t.min_lr_ratio
    return min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (t.lr - min_lr)


def warmup_stable_decay(step: int, t: TrainConfig) -> float:
    """lr until the decay starts, then linearly down to lr * min_lr_ratio at the last step.
    The decay spans round(decay_fraction * steps) steps (at least one), never the warmup."""
    decay_steps = min(max(round(t.decay_fraction * t.steps), 1), t.steps - t.warmup_steps)
    start = t.steps - decay_steps  # the last step at full lr
    if step <= start or decay_steps <= 0:
        return t.lr
    progress = min((step - start) / decay_steps, 1.0)
    return t.lr * (1.0 - progress * (1.0 - t.min_lr_ratio))
