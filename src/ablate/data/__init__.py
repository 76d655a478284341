"""Data: text corpora and synthetic tasks behind one small interface (``task.Task``).

    from ablate.data import build_task
    task = build_task(data_config, root=".")
    x, y, mask = task.train_batch(data_seed, step, batch_size)

This package's ``__init__`` does not import torch: the DAG layer imports
``ablate.data.sources`` (file lists and config checks) and must stay fast.
"""

from __future__ import annotations


def build_task(data, root: str = "."):
    """The task ``data.task`` names, built from ``data``; ``root`` is where resources/ lives."""
    from ablate.data.sources import check_data_config
    from ablate.registry import TASKS, resolve

    errors = check_data_config(data)
    if errors:
        raise ValueError("; ".join(errors))
    return resolve(TASKS, data.task)(data, root)
