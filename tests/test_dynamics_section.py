"""The report's Training dynamics table (report/dynamics_section.py): one row per variant,
each value the seed mean at each run's last probe, in the panels' variant order."""

from __future__ import annotations

import types

import pandas as pd

from ablate.report.dynamics_section import _summary
from ablate.report.panels import Panel


def _curvature(run_id: str, variant: str, last: float) -> list[dict]:
    # two probes; only the last (step 20) may reach the table
    return [
        {"variant": variant, "run_id": run_id, "step": step, "eos_ratio": value,
         "adam_ratio": 2 * value, "noise_scale": 10 * value}
        for step, value in ((10, 99.0), (20, last))
    ]  # fmt: skip


def _per_run(run_id: str, variant: str, last: float) -> list[dict]:
    return [
        {"variant": variant, "run_id": run_id, "step": step, "value": value}
        for step, value in ((10, -1.0), (20, last))
    ]


def test_each_variant_gets_its_seed_mean_at_the_last_probe():
    runs = [("a0", "baseline", 1.0), ("a1", "baseline", 3.0), ("b0", "pos=rope", 5.0)]
    curv = pd.DataFrame([r for run in runs for r in _curvature(*run)])
    sinks = pd.DataFrame([r for run in runs for r in _per_run(*run)])
    massive = pd.DataFrame([r for run_id, v, x in runs for r in _per_run(run_id, v, 7 * x)])
    # the panels list pos=rope's group first: the table follows the panels' order
    c = types.SimpleNamespace(panels=[Panel("model.pos", ("pos=rope", "baseline"))])
    block = _summary(c, curv, sinks, massive)
    heads = [h["label"] for h in block["columns"]]
    rows = [dict(zip(heads, (cell["text"] for cell in row), strict=True)) for row in block["rows"]]
    columns = ["eos_ratio", "adam_ratio", "noise_scale", "sink", "massive"]
    assert heads == ["variant", "seeds", *columns]
    assert rows == [
        {"variant": "pos=rope", "seeds": "1", "eos_ratio": "5", "adam_ratio": "10",
         "noise_scale": "50", "sink": "5", "massive": "35"},
        {"variant": "baseline", "seeds": "2", "eos_ratio": "2", "adam_ratio": "4",
         "noise_scale": "20", "sink": "2", "massive": "14"},
    ]  # fmt: skip
