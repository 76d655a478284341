"""A task's sequence lengths: training, and each longer eval set, asked of its traits.

Pure Python (no torch). The layouts themselves are the tasks' traits
(``ablate.spec.task_traits``, one registry entry each in ``ablate.spec.registry.TASKS``);
this module only looks the task up and applies its layout at each scale.
"""

from __future__ import annotations

from ablate.spec.registry import TASKS
from ablate.spec.task_traits import TaskTraits


def traits(data) -> TaskTraits:
    return TASKS[data.task]


def train_seq_len(data) -> int:
    """Training sequence length (model input tokens) of the task ``data`` describes."""
    return scaled_seq_len(data, 1)


def scaled_seq_len(data, scale: int) -> int:
    """Sequence length at ``scale`` times the training length (1 = training)."""
    return traits(data).seq_len(data, scale)


def eval_scales(data) -> list[int]:
    """Scales of the eval sets: the training length, then each eval multiplier."""
    return [1, *data.eval_multipliers] if traits(data).scalable else [1]


def seq_lens(data) -> list[int]:
    """Training length first, then the length of every longer eval set."""
    return [scaled_seq_len(data, s) for s in eval_scales(data)]
