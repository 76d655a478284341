"""What every task gives the training loop, and the seeded random streams behind it.

A task is fixed by its DataConfig. Its training batches are a pure function of
(settings, data_seed, step, batch_size): each batch comes from a fresh torch.Generator
seeded from those numbers, so a killed run resumes with the very same data, and every
model variant with the same seed sees identical batches in identical order. Eval sets
and the probe batch use streams that do not depend on the data seed at all.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import torch

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # x, y (B, T) long; mask (B, T) bool


@dataclass(frozen=True)
class EvalSet:
    seq_len: int
    batches: list[Batch]
    note: str = ""  # empty, or why this set is special ("2x training length", ...)


def stream(*parts) -> torch.Generator:
    """A generator seeded from a tuple of names and numbers.

    Hashing keeps distinct streams apart: ("train", seed=1, step=0) and ("train", 0, 1) or
    ("eval", ...) never share a seed, unlike seed + step arithmetic would.
    """
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)


def entropy(counts: torch.Tensor) -> float:
    """Entropy in nats of the distribution given by (unnormalised) counts."""
    p = counts.double() / counts.sum()
    p = p[p > 0]
    return float(-(p * p.log()).sum())


class Task:
    """Interface of a task. Subclasses set the attributes in ``__init__``."""

    name: str
    kind: str  # "text" | "synthetic"
    vocab_size: int
    seq_len: int  # training sequence length
    baseline_loss: float  # loss of the best context-free predictor on scored tokens (nats)
    chars_per_token: float = math.nan  # text only: for bits per character

    def train_batch(self, data_seed: int, step: int, batch_size: int) -> Batch:
        raise NotImplementedError

    def eval_sets(self, batch_size: int, n_batches: int) -> list[EvalSet]:
        raise NotImplementedError

    def probe_batch(self) -> torch.Tensor:
        raise NotImplementedError


def shift(seq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T+1) sequences -> model inputs x and next-token targets y, each (B, T)."""
    return seq[:, :-1].contiguous(), seq[:, 1:].contiguous()
