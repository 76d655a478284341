"""Sequence layouts of the tasks: how long a sequence is and what each task checks.

Pure Python (no torch): the DAG layer checks configs with these numbers before any job runs,
and the generators in ``synthetic.py`` / ``recall.py`` / ``modadd.py`` build exactly these
layouts. Every sequence has ``seq_len + 1`` tokens; the model reads the first ``seq_len``
(x) and predicts the last ``seq_len`` (y = x shifted by one).

Each task's registry entry (``ablate.spec.registry.TASKS``) is a :class:`TaskTraits` record
saying how it uses ``data.seq_len`` (the training length; ``task_lengths`` asks it):

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

from collections.abc import Callable
from dataclasses import dataclass


def as_given(data, scale: int) -> int:
    return data.seq_len * scale


def no_errors(data) -> list[str]:
    return []


@dataclass(frozen=True)
class TaskTraits:
    """What a task says about itself; the generator class is resolved lazily."""

    module: str  # "package.module:Class"
    seq_len: Callable[..., int] = as_given  # (data, scale) -> length at scale x training
    scalable: bool = False  # has longer eval sets, one per data.eval_multipliers entry
    corpus: str | None = None  # the packaged corpus it reads (ablate.data.sources.CORPORA)
    reads_path: bool = False  # reads the local file data.path
    check: Callable[..., list[str]] = no_errors  # (data) -> one message per problem
    # (data) -> sequences in its fixed held-out set, or None: eval_batches x batch_size drawn
    held_out: Callable[..., int | None] = lambda data: None
    # (data) -> how many tokens a scored position can take (a synthetic task's chance level
    # is ln of it: data/references.py); None: a text task, scored on its whole vocabulary
    answers: Callable[..., int] | None = None


# ---------------------------------------------------------------- the layouts, per task


def source_and_target(data, scale: int) -> int:
    """copy / reverse / sort: the input, a separator, the output."""
    return 2 * data.length * scale


def equation(data, scale: int) -> int:
    """modadd: ``a b = c``, always the same length."""
    return 3


def induction_segment(seq_len: int, vocab: int) -> int:
    """Length of the repeated segment: a quarter of the sequence, at most the vocabulary
    (its tokens are distinct, so every match is unambiguous)."""
    return min(seq_len // 4, vocab)


def mqar_keys(vocab: int) -> int:
    """Keys come from the lower half of the vocabulary, values from the upper half."""
    return vocab // 2


# ---------------------------------------------------------------- the scored tokens, per task


def content_tokens(data) -> int:
    """copy / reverse / sort / induction: a scored token is any content token."""
    return data.vocab


def mqar_values(data) -> int:
    """mqar: a scored token is a value, from the upper half of the vocabulary."""
    return data.vocab - mqar_keys(data.vocab)


def residues(data) -> int:
    """modadd: the scored token c is any residue mod p."""
    return data.modulus


# ---------------------------------------------------------------- the checks, per task


def path_errors(data) -> list[str]:
    if not data.path:
        return [f"data.path is required for data.task={data.task!r} (a local UTF-8 file)"]
    return []


def mqar_errors(data) -> list[str]:
    errors = []
    if data.seq_len < 4 * data.n_pairs:
        errors.append(
            f"data.seq_len={data.seq_len} is too short for mqar with data.n_pairs="
            f"{data.n_pairs}: needs >= 4 * n_pairs = {4 * data.n_pairs} (pairs, then queries)"
        )
    # mqar is scalable: its longest eval set has the most pairs
    most = data.n_pairs * max([1, *data.eval_multipliers])
    if most > mqar_keys(data.vocab):
        errors.append(
            f"data.n_pairs={data.n_pairs} is too many for data.vocab={data.vocab}: "
            f"{most} distinct keys (n_pairs x largest eval multiplier) but only "
            f"{mqar_keys(data.vocab)} keys (half the vocabulary)"
        )
    return errors


def induction_errors(data) -> list[str]:
    if induction_segment(data.seq_len, data.vocab) < 2:
        return [
            f"data.seq_len={data.seq_len} is too short for induction: needs >= 8 "
            "(the repeated segment has seq_len // 4 tokens and must have >= 2)"
        ]
    return []


def modadd_train_pairs(data) -> int:
    """ModAdd trains on this many of the modulus**2 pairs (a, b)."""
    return round(data.train_fraction * data.modulus**2)


def modadd_errors(data) -> list[str]:
    n_train = modadd_train_pairs(data)
    if not 1 <= n_train < data.modulus**2:
        return [
            f"data.train_fraction={data.train_fraction} leaves {n_train} of "
            f"{data.modulus**2} pairs for training: need at least one train and one "
            "held-out pair"
        ]
    return []


def modadd_held_out(data) -> int:
    """ModAdd evaluates on every (a, b) pair left out of training."""
    return data.modulus**2 - modadd_train_pairs(data)
