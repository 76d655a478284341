"""The task a DataConfig names, checked and built (``build_task``)."""

from __future__ import annotations

from ablate.spec.constraints import check_data_config
from ablate.spec.registry import TASKS, resolve


def build_task(data, root: str = "."):
    """The task ``data.task`` names, built from ``data``; ``root`` is where resources/ lives."""
    errors = check_data_config(data)
    if errors:
        raise ValueError("; ".join(errors))
    return resolve(TASKS, data.task)(data, root)
