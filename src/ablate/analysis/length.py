"""Length generalisation: loss and accuracy at 1x, 2x, 4x the training length.

Per task, variant and evaluated length: each run's validation evaluation at its last
evaluated step (evals table, split 'val'), at every seq_len it evaluated. `multiple` is
seq_len / the run's training length (data.seq_len), so 1 is the training length and 2, 4
are data.eval_multipliers. For metric loss (nats per scored token) and token_acc (fraction
of scored tokens predicted exactly): n (runs with a finite value), mean and the 95 %
interval of the mean over seeds, inside the metric's range (analysis/inference.py
bounded_interval, ranges in analysis/load.py BOUNDS; NaN below 2 runs).
Runs stopped early (diverged, oom) are left out: their last evaluation is not final; an evaluation
skipped because the length exceeds the model's context has a NaN value and is counted in
n_skipped, not in n.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ablate.analysis.inference import bounded_interval
from ablate.analysis.load import BOUNDS
from ablate.probes.status import statuses_where

EVAL_METRICS = ("loss", "token_acc")  # columns of evals.parquet
TRAIN_LEN = "data.seq_len"
COLUMNS = [
    *("task", "variant", "multiple", "seq_len", "metric", "n", "n_skipped"),
    *("mean", "ci_lo", "ci_hi"),
]


def length_table(runs: pd.DataFrame, evals: pd.DataFrame) -> pd.DataFrame:
    if evals.empty or TRAIN_LEN not in runs.columns:
        return pd.DataFrame(columns=COLUMNS)
    finished = runs["status"].isin(statuses_where(final_loss=True))
    ok = runs[finished][["run_id", "task", "variant", TRAIN_LEN]]
    val = evals[evals["split"] == "val"].drop(columns=["seed"], errors="ignore")
    last = val[val["step"] == val.groupby("run_id")["step"].transform("max")]
    table = ok.merge(last, on=["run_id", "task", "variant"])
    table["multiple"] = table["seq_len"] / table[TRAIN_LEN].astype(float)
    rows = []
    keys = ["task", "variant", "multiple", "seq_len"]
    for (task, variant, multiple, seq_len), group in table.groupby(keys, sort=True):
        for metric in EVAL_METRICS:
            values = pd.to_numeric(group[metric], errors="coerce").to_numpy(float)
            finite = values[np.isfinite(values)]
            lo, hi = bounded_interval(finite, BOUNDS[metric])
            rows.append(
                {
                    "task": task,
                    "variant": variant,
                    "multiple": float(multiple),
                    "seq_len": int(seq_len),
                    "metric": metric,
                    "n": int(finite.size),
                    "n_skipped": int(values.size - finite.size),
                    "mean": float(finite.mean()) if finite.size else np.nan,
                    "ci_lo": lo,
                    "ci_hi": hi,
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)
