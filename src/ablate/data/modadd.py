"""Modular addition ``a + b mod p`` with held-out pairs: the grokking task (Power et al. 2022).

    x = [a, b, =]  ->  y = [b, =, c]      only c = (a + b) mod p is scored

All p^2 ordered pairs are shuffled once with a stream that depends on p alone, and the
first round(train_fraction * p^2) of them train; the rest are held out. So the split is
the same for every data seed (the held-out accuracy is comparable across runs), and a
smaller train_fraction gives a subset of a larger one's training pairs.
"""

from __future__ import annotations

import torch

from ablate.data.synthetic import SyntheticTask
from ablate.data.task import Batch, EvalSet, entropy, shift, stream
from ablate.spec.task_traits import modadd_train_pairs


class ModAdd(SyntheticTask):
    def __init__(self, data, root: str = "."):
        super().__init__(data, root)
        self.p = data.modulus
        self.vocab = self.p  # tokens 0 .. p-1 are residues, p is "="; data.vocab is unused
        self.vocab_size = self.p + 1
        order = torch.randperm(self.p**2, generator=stream("modadd split", self.p))
        n_train = modadd_train_pairs(data)
        self.train_pairs, self.held_out = order[:n_train], order[n_train:]
        # best context-free guess: the answer frequencies over the training pairs
        answers = self.answer(self.train_pairs)
        self.baseline_loss = entropy(torch.bincount(answers, minlength=self.p))

    def answer(self, pairs: torch.Tensor) -> torch.Tensor:
        return (pairs // self.p + pairs % self.p) % self.p

    def _examples(self, pairs: torch.Tensor) -> Batch:
        """Pair indices a * p + b -> (x, y, mask) with x = [a, b, =], y = [b, =, c]."""
        a, b = pairs // self.p, pairs % self.p
        seq = torch.stack([a, b, torch.full_like(a, self.p), self.answer(pairs)], dim=1)
        x, y = shift(seq)
        mask = torch.zeros_like(x, dtype=torch.bool)
        mask[:, -1] = True
        return x, y, mask

    def train_batch(self, data_seed: int, step: int, batch_size: int) -> Batch:
        gen = stream("train", self.name, data_seed, step)
        pick = torch.randint(0, len(self.train_pairs), (batch_size,), generator=gen)
        return self._examples(self.train_pairs[pick])

    def eval_sets(self, batch_size: int, n_batches: int) -> list[EvalSet]:
        """All held-out pairs (cheap at 3 tokens each), in n_batches near-equal batches."""
        chunks = self.held_out.tensor_split(min(n_batches, len(self.held_out)))
        note = f"all {len(self.held_out)} held-out (a, b) pairs"
        return [EvalSet(self.seq_len, [self._examples(c) for c in chunks], note)]

    def probe_batch(self) -> torch.Tensor:
        first = torch.arange(4) % len(self.held_out)  # repeats if fewer than 4 are held out
        return self._examples(self.held_out[first])[0]
