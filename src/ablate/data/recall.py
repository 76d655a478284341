"""Associative-recall tasks: induction heads and multi-query associative recall (MQAR).

Both ask the model to look back into its context and copy what followed a matching token,
the mechanism attention is good at and recurrent or 1-layer models are not.
"""

from __future__ import annotations

import math

import torch

from ablate.data.synthetic import SyntheticTask
from ablate.spec.task_traits import induction_segment, mqar_keys


class Induction(SyntheticTask):
    """A random segment A appears twice among pad tokens; score A's second occurrence.

        pad .. pad | A | pad .. pad | A | pad .. pad        (T + 1 tokens in all)

    A has S = min(seq_len // 4, vocab) distinct content tokens, so inside the second copy
    the current token has exactly one earlier occurrence and the next token is determined:
    an induction head (find the previous occurrence, copy what followed) solves it; a
    1-layer model cannot. The pad lengths are random, so no fixed positional offset solves
    it either. Scored: the second copy's tokens 2..S (its first token follows pad and is
    unpredictable). Longer eval sets keep S and add pad: the copies may lie further apart.

    Why pad and not random filler: with random filler tokens a small 2-layer RoPE model
    learns only gradually (~0.2-0.5 accuracy after 1000 steps at batch 64); with pad it
    shows the sharp induction phase change (accuracy ~0 -> 1 near step 550) while a
    1-layer model stays near chance. Measured with a scratch attention-only model.
    """

    def __init__(self, data, root: str = "."):
        super().__init__(data, root)
        self.segment = induction_segment(data.seq_len, data.vocab)
        self.pad = self.vocab  # the special token after the content vocabulary

    def sample(self, gen, batch_size, scale):
        n = self.seq_len * scale + 1
        s = self.segment
        # distinct tokens: the first s of a random permutation of the vocabulary, per row
        segment = torch.rand(batch_size, self.vocab, generator=gen).argsort(dim=1)[:, :s]
        seq = torch.full((batch_size, n), self.pad)
        # split the n - 2s pad tokens into before / between / after at two random cuts
        cuts = torch.randint(0, n - 2 * s + 1, (batch_size, 2), generator=gen).sort(dim=1)
        first, second = cuts.values[:, 0], cuts.values[:, 1] + s
        offsets = torch.arange(s)
        seq.scatter_(1, first[:, None] + offsets, segment)
        seq.scatter_(1, second[:, None] + offsets, segment)
        mask = torch.zeros(batch_size, n - 1, dtype=torch.bool)
        mask.scatter_(1, second[:, None] + offsets[:-1], True)  # y = A[1:] of the 2nd copy
        return seq, mask


class MQAR(SyntheticTask):
    """Multi-query associative recall (Zoology, Arora et al. 2023).

        k1 v1 k2 v2 .. kP vP | pad .. k_i v_i .. pad .. k_j v_j .. pad     (T + 1 tokens)

    P distinct keys from the lower half of the vocabulary, each with a random value from
    the upper half; then every key is queried once, in random order, at random even
    positions of the query section (the rest is a pad token). Scored: the value after each
    query. Unlike Zoology the value also appears in the input after its query, so y is
    always the next token; each key is queried once, so this gives nothing away.
    Longer eval sets scale P and T together.
    """

    def __init__(self, data, root: str = "."):
        super().__init__(data, root)
        self.n_keys = mqar_keys(self.vocab)
        self.baseline_loss = math.log(self.vocab - self.n_keys)  # uniform over the values

    def sample(self, gen, batch_size, scale):
        p = self.data.n_pairs * scale
        n = self.seq_len * scale + 1
        keys = torch.rand(batch_size, self.n_keys, generator=gen).argsort(dim=1)[:, :p]
        values = torch.randint(self.n_keys, self.vocab, (batch_size, p), generator=gen)
        seq = torch.full((batch_size, n), self.vocab)  # pad
        seq[:, 0 : 2 * p : 2], seq[:, 1 : 2 * p : 2] = keys, values
        slots = (n - 2 * p) // 2  # two-token (query, answer) slots after the pairs
        chosen = torch.rand(batch_size, slots, generator=gen).argsort(dim=1)[:, :p]
        where = 2 * p + 2 * chosen.sort(dim=1).values
        order = torch.rand(batch_size, p, generator=gen).argsort(dim=1)
        seq.scatter_(1, where, keys.gather(1, order))
        seq.scatter_(1, where + 1, values.gather(1, order))
        mask = torch.zeros(batch_size, n - 1, dtype=torch.bool)
        mask.scatter_(1, where, True)  # x = the query key, y = its value
        return seq, mask
