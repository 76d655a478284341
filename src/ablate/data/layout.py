"""Sequence layouts of the synthetic tasks: how long a sequence is and where the answers sit.

Pure Python (no torch): the DAG layer checks configs with these numbers before any job runs,
and the generators in ``synthetic.py`` / ``recall.py`` / ``modadd.py`` build exactly these
layouts. Every sequence has ``seq_len + 1`` tokens; the model reads the first ``seq_len``
(x) and predicts the last ``seq_len`` (y = x shifted by one).

How each task uses ``data.seq_len`` (the training length):

=================  ====================================================================
copy/reverse/sort  ignored: ``[s_1..s_L, SEP, t_1..t_L]`` gives seq_len = 2 * data.length
mqar               used as is; needs seq_len >= 4 * data.n_pairs (pairs, then queries)
induction          used as is; the repeated segment has min(seq_len // 4, vocab) tokens
modadd             ignored: ``[a, b, =, c]`` gives seq_len = 3
text tasks         used as is
=================  ====================================================================

Length generalisation: an eval multiplier ``m`` scales data.length (copy/reverse/sort),
data.n_pairs and seq_len (mqar) or seq_len alone (induction, same segment length, so the
two copies lie up to ``m`` times further apart). modadd and text tasks have no longer sets.
"""

from __future__ import annotations

LENGTH_TASKS = ("copy", "reverse", "sort")
SYNTHETIC_TASKS = (*LENGTH_TASKS, "mqar", "induction", "modadd")
SCALABLE_TASKS = (*LENGTH_TASKS, "mqar", "induction")  # have longer eval sets


def train_seq_len(data) -> int:
    """Training sequence length (model input tokens) of the task ``data`` describes."""
    return scaled_seq_len(data, 1)


def scaled_seq_len(data, scale: int) -> int:
    """Sequence length at ``scale`` times the training length (1 = training)."""
    if data.task in LENGTH_TASKS:
        return 2 * data.length * scale
    if data.task == "modadd":
        return 3
    return data.seq_len * scale


def eval_scales(data) -> list[int]:
    """Scales of the eval sets: the training length, then each eval multiplier."""
    if data.task in SCALABLE_TASKS:
        return [1, *data.eval_multipliers]
    return [1]


def seq_lens(data) -> list[int]:
    """Training length first, then the length of every longer eval set."""
    return [scaled_seq_len(data, s) for s in eval_scales(data)]


def induction_segment(seq_len: int, vocab: int) -> int:
    """Length of the repeated segment: a quarter of the sequence, at most the vocabulary
    (its tokens are distinct, so every match is unambiguous)."""
    return min(seq_len // 4, vocab)


def mqar_keys(vocab: int) -> int:
    """Keys come from the lower half of the vocabulary, values from the upper half."""
    return vocab // 2
