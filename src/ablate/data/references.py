"""The references of a task: losses its runs' losses can be read against.

    rows = task_references(spec, root=".")   # [{reference, seq_len, val_loss, method}, ...]

Text tasks (shakespeare_char, canterbury, text_file): count-based n-gram models of order
1 to 5 (``ngram.py``: interpolated modified Kneser-Ney, down to a uniform distribution
over the vocabulary), fitted on the task's train split and scored on the very windows the
runs are scored on: the task's own eval set (``eval_sets(batch_size, eval_batches)``, as
the training loop asks for it). A position sees only the tokens of its window before it,
as the transformer does, so a window's first positions use the lower orders. Text tasks
have one eval length.

Synthetic tasks, at each eval length (the layouts: ``ablate.spec.task_traits``):
  chance   ln of how many tokens a scored position can take (the task's registry entry,
           ``answers``): a uniform guess
  best     0: every scored token is a function of the tokens before it, so a perfect
           model has no loss. copy / reverse / sort: the source precedes its target;
           mqar: each queried key's value was given with the key earlier; induction: the
           scored tokens A[1:] of the second copy each follow their own earlier occurrence
           in the first copy (A's tokens are distinct), and the second copy's first token,
           which nothing predicts, is not scored; modadd: c = (a + b) mod p.
  unigram  the task's ``baseline_loss``, the context-free loss the status rules use

A spec's references depend only on its data section and the size of its eval set
(``reference_key``), so a study computes them once per data config. Importing this module
does not load torch (the workflow names the files while it parses); computing them does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math

import numpy as np

from ablate.data.ngram import KneserNey, window_log_probs
from ablate.spec.config import ModelConfig, ProbeConfig, TrainConfig
from ablate.spec.registry import TASKS
from ablate.spec.run_spec import NUMERICS_VERSION, RunSpec, canonical_json

# Bump when a reference value would change (the n-gram maths, the rows): a new key, so
# every study recomputes its references.
REFERENCES_VERSION = 1
ORDERS = {1: "unigram", 2: "bigram", 3: "trigram", 4: "4-gram", 5: "5-gram"}
NAMES = (*ORDERS.values(), "chance", "best")  # every reference, in the order they are listed

# synthetic tasks: how many tokens a scored position can take, stated by each task's
# registry entry (spec/task_traits.py); a task that states it has chance and best references
ANSWERS = {name: t.answers for name, t in TASKS.items() if t.answers is not None}


def eval_windows(spec) -> int:
    """Sequences in the eval set the runs of this spec are scored on."""
    return spec.train.batch_size * spec.train.eval_batches


def reference_key(spec) -> str:
    """16 hex digits naming the references of every run with this spec's data and eval set
    (results/references/<key>.parquet)."""
    identity = {
        "data": dataclasses.asdict(spec.data),
        "eval_windows": eval_windows(spec),
        "numerics_version": NUMERICS_VERSION,  # the eval windows are drawn by that code
        "references_version": REFERENCES_VERSION,
    }
    return hashlib.sha256(canonical_json(identity).encode()).hexdigest()[:16]


def reference_spec(spec) -> dict:
    """The spec.yaml the references job reads: spec's data section and eval-set size, every
    other key its default, so the file is one and the same for every run of that key."""
    train = TrainConfig(batch_size=spec.train.batch_size, eval_batches=spec.train.eval_batches)
    return RunSpec(ModelConfig(), train, spec.data, ProbeConfig(), seed=0, data_seed=0).to_dict()


def task_references(spec, root: str = ".") -> list[dict]:
    """The references of the task ``spec.data`` names, scored as spec's runs are scored."""
    from ablate.data.build import build_task  # torch: only when references are computed

    task = build_task(spec.data, root)
    sets = task.eval_sets(spec.train.batch_size, spec.train.eval_batches)
    if task.kind == "text":
        return text_references(task, sets)
    return synthetic_references(task, spec.data, [es.seq_len for es in sets])


def text_references(task, sets) -> list[dict]:
    model = KneserNey(task.train.numpy(), task.vocab_size, max(ORDERS))
    rows = []
    for es in sets:
        # the (B, T + 1) windows back from (x, y): y is x shifted by one
        windows = np.concatenate([np.c_[x[:, :1].numpy(), y.numpy()] for x, y, _ in es.batches])
        mask = np.concatenate([m.numpy() for _, _, m in es.batches])
        for order, name in ORDERS.items():
            nll = -window_log_probs(model, windows, order)[mask]
            rows.append(
                {
                    "reference": name,
                    "seq_len": es.seq_len,
                    "val_loss": float(nll.mean()),
                    "method": model.method(order),
                }
            )
    return rows


def synthetic_references(task, data, seq_lens: list[int]) -> list[dict]:
    answers = ANSWERS[data.task](data)
    values = {
        "unigram": (task.baseline_loss, "the task's context-free baseline_loss (status rules)"),
        "chance": (math.log(answers), f"uniform over the {answers} tokens a scored position takes"),
        "best": (0.0, "0: every scored token is determined by the tokens before it"),
    }
    return [
        {"reference": name, "seq_len": seq_len, "val_loss": float(value), "method": method}
        for seq_len in seq_lens
        for name, (value, method) in values.items()
    ]


def write_references(spec_path, out, root: str = ".", log=print) -> None:
    """``ablate references``: the task of a run's spec.yaml, its references into ``out``.
    Any run's spec will do: only its data section and eval-set size count, so it is not
    checked as a whole (the workflow's spec keeps every other key at its default)."""
    import time
    from pathlib import Path

    import pandas as pd
    import yaml

    from ablate.store.atomic import write_parquet
    from ablate.store.tables import REFERENCE_COLUMNS

    spec = RunSpec.from_dict(yaml.safe_load(Path(spec_path).read_text()))
    start = time.perf_counter()
    rows = task_references(spec, root=root)
    write_parquet(Path(out), pd.DataFrame(rows, columns=list(REFERENCE_COLUMNS)))
    for row in rows:
        log(f"{row['reference']:8s} seq_len={row['seq_len']:<5d} {row['val_loss']:.4f} nats")
    log(f"references of {spec.data.task} in {time.perf_counter() - start:.1f} s: {out}")
