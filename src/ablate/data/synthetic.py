"""Synthetic tasks generated on the fly: the shared machinery, and copy / reverse / sort.

A synthetic task draws whole sequences from a seeded generator and marks which targets
are answers: loss and accuracy count only those (the rest of a sequence is unpredictable
by design). Tokens ``0 .. data.vocab - 1`` are content; special tokens (separator, pad)
come after them, so ``vocab_size`` does not change with the sequence length.

Layouts and how each task uses ``data.seq_len`` are in ``ablate.spec.task_traits``.
"""

from __future__ import annotations

import math

import torch

from ablate.data.task import Batch, EvalSet, Task, shift, stream
from ablate.spec.task_lengths import eval_scales, scaled_seq_len


class SyntheticTask(Task):
    kind = "synthetic"
    n_special = 1  # tokens after the content vocabulary (separator / pad / "=")

    def __init__(self, data, root: str = "."):
        self.data = data
        self.name = data.task
        self.vocab = data.vocab
        self.vocab_size = self.vocab + self.n_special
        self.seq_len = scaled_seq_len(data, 1)
        self.baseline_loss = math.log(self.vocab)  # answers are uniform over the content tokens

    def sample(self, gen: torch.Generator, batch_size: int, scale: int):
        """(sequences (B, T+1) long, answer mask (B, T) bool) at ``scale`` x training length.

        mask[b, t] is True where y[b, t] = sequence[b, t + 1] is an answer token.
        """
        raise NotImplementedError

    def _batch(self, gen: torch.Generator, batch_size: int, scale: int) -> Batch:
        seq, mask = self.sample(gen, batch_size, scale)
        x, y = shift(seq)
        return x, y, mask

    def train_batch(self, data_seed: int, step: int, batch_size: int) -> Batch:
        return self._batch(stream("train", self.name, data_seed, step), batch_size, 1)

    def eval_sets(self, batch_size: int, n_batches: int) -> list[EvalSet]:
        sets = []
        for scale in eval_scales(self.data):
            gen = stream("eval", self.name, scale)  # no data seed: the same for every run
            batches = [self._batch(gen, batch_size, scale) for _ in range(n_batches)]
            note = "" if scale == 1 else f"length generalisation: {scale}x training length"
            sets.append(EvalSet(scaled_seq_len(self.data, scale), batches, note))
        return sets

    def probe_batch(self) -> torch.Tensor:
        return self._batch(stream("probe", self.name), 4, 1)[0]


class _SequenceToSequence(SyntheticTask):
    """``[s_1 .. s_L, SEP, t_1 .. t_L]``: L random tokens, a separator, then the target."""

    def target(self, source: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def sample(self, gen, batch_size, scale):
        length = self.data.length * scale
        source = torch.randint(0, self.vocab, (batch_size, length), generator=gen)
        sep = torch.full((batch_size, 1), self.vocab)  # the separator token
        seq = torch.cat([source, sep, self.target(source)], dim=1)
        mask = torch.zeros(batch_size, 2 * length, dtype=torch.bool)
        mask[:, length:] = True  # y[t] for t >= L is t_1 .. t_L
        return seq, mask


class Copy(_SequenceToSequence):
    def target(self, source):
        return source


class Reverse(_SequenceToSequence):
    def target(self, source):
        return source.flip(1)


class Sort(_SequenceToSequence):
    def target(self, source):
        return source.sort(dim=1).values
