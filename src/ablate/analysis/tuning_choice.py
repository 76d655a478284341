"""The tuning stage (ablate.study.tuning): one row per (task, variant, grid point) of the
tuning runs, and which point each (task, variant) goes on to the comparison with.

The choice, per (task, variant), from its tuning runs (one per tuning seed at each point):
  score(point) = mean final_val_loss over the tuning seeds, where a run that is not ``ok``
                 (probes/status.py: any failure) counts as worse than any finite loss
  chosen       = the point of lowest score. Points with failures rank after every point
                 without; among them, fewer failures first, then the mean loss of their
                 finished runs. Equal scores go to the smaller value (compared key by key in
                 the grid's order): for a learning rate, the more conservative one.
The tuning job (``ablate choose``) and the analysis both call ``tuning_table`` on the same
numbers (the runs' summaries, judged with the study's status rules), so the report shows
the choice the comparison was trained with.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ablate.analysis.inference import bounded_interval
from ablate.analysis.load import BOUNDS, LOSS
from ablate.analysis.lr_sensitivity import LR_KEY, MIN_LRS, capped_loss, sensitivity
from ablate.probes.status import STATUSES
from ablate.spec.config import StatusRules
from ablate.spec.run_spec import RunSpec, get_dotted
from ablate.spec.stages import TUNE
from ablate.store.atomic import write_json
from ablate.store.collect import read_run

COLUMNS = [
    "task",
    "variant",
    "key",  # the tuned key, or the keys of a grid joined by ','
    "value",  # the point's value of a single tuned key (NaN for a grid: see the key columns)
    "point",  # 'train.lr=0.003' (a grid: 'train.lr=0.003, train.warmup_steps=10')
    "n",
    "loss_mean",  # over the point's finished runs
    "loss_ci_lo",
    "loss_ci_hi",
    "n_failed",
    "chosen",
    "at_edge",  # the (task, variant)'s chosen point is the grid's smallest or largest value
    "shared",  # the point is the base config's value: the value an untuned study shares
    "lr_sensitivity",  # Wortsman's, over the (task, variant)'s lr values (NaN: < 3 lrs)
    "rung",  # a ladder's rung tuned on its own (study/ladder.py), not a compared variant
]


def describe(point: dict) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in point.items())


def _failed(status: pd.Series) -> pd.Series:
    return status.map(lambda s: STATUSES[s].failure if s in STATUSES else True).astype(bool)


def tuning_table(runs: pd.DataFrame, grid: dict, base_point: dict) -> pd.DataFrame:
    """``runs``: the tuning runs, with task, variant, status, final_val_loss and a column per
    tuned key (runs.parquet's spec columns); ``grid``: {key: values}; ``base_point``: the
    base config's value of each key. One row per (task, variant, point), COLUMNS plus a
    column per tuned key."""
    keys = list(grid)
    rows = []
    for (task, variant), group in runs.groupby(["task", "variant"], sort=True):
        failed = _failed(group["status"])
        loss = pd.to_numeric(group[LOSS], errors="coerce").astype(float)
        finished = ~failed & np.isfinite(loss)
        points = []
        for values, at in group.groupby(keys, sort=True):
            values = values if isinstance(values, tuple) else (values,)
            point = {k: _plain(v) for k, v in zip(keys, values, strict=True)}
            ok = loss[at.index][finished[at.index]].to_numpy()
            n_failed = int((~finished[at.index]).sum())
            mean = float(ok.mean()) if len(ok) else math.nan
            # one finished run has no interval
            lo, hi = bounded_interval(ok, BOUNDS["val_loss"]) if len(ok) > 1 else (math.nan,) * 2
            score = mean if n_failed == 0 else math.inf
            rank = (score, n_failed, mean if len(ok) else math.inf, tuple(values))
            points.append((rank, point, len(at), mean, lo, hi, n_failed))
        best = min(points, key=lambda p: p[0])[1]
        edge = any(best[k] in (min(grid[k]), max(grid[k])) for k in keys)
        sens = _lr_sensitivity(group, keys, best)
        for _, point, n, mean, lo, hi, n_failed in sorted(points, key=lambda p: p[0][3]):
            rows.append(
                {
                    "task": task,
                    "variant": variant,
                    "key": ",".join(keys),
                    "value": point[keys[0]] if len(keys) == 1 else math.nan,
                    "point": describe(point),
                    "n": n,
                    "loss_mean": mean,
                    "loss_ci_lo": lo,
                    "loss_ci_hi": hi,
                    "n_failed": n_failed,
                    "chosen": point == best,
                    "at_edge": edge,
                    "shared": all(base_point.get(k) == v for k, v in point.items()),
                    "lr_sensitivity": sens,
                    "rung": bool(group["rung"].iloc[0]) if "rung" in group else False,
                    **point,
                }
            )
    return pd.DataFrame(rows, columns=[*COLUMNS, *keys])


def choose(runs: pd.DataFrame, grid: dict, base_point: dict) -> dict:
    """(task, variant) -> the chosen point {key: value}."""
    table = tuning_table(runs, grid, base_point)
    chosen = table[table["chosen"]]
    return {
        (task, variant): {k: _plain(v) for k, v in zip(grid, values, strict=True)}
        for task, variant, *values in chosen[["task", "variant", *grid]].itertuples(index=False)
    }


def _lr_sensitivity(group: pd.DataFrame, keys: list[str], best: dict) -> float:
    """Wortsman's LR sensitivity of one (task, variant) over its tuned learning rates, the
    other tuned keys at their chosen values; NaN without lr in the grid or < MIN_LRS lrs."""
    if LR_KEY not in keys:
        return math.nan
    at = group
    for k in keys:
        if k != LR_KEY:
            at = at[at[k] == best[k]]
    if at[LR_KEY].nunique() < MIN_LRS:
        return math.nan
    l0 = float(np.nanmedian(pd.to_numeric(at["initial_loss"], errors="coerce")))
    curve = at.assign(capped=capped_loss(at, l0)).groupby(LR_KEY)["capped"].mean()
    return sensitivity(curve.to_numpy())


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def choose_study(manifest_path: str | Path, runs_dir: str | Path, out: str | Path) -> dict:
    """The tuning job (``ablate choose``): judge the tuning runs the manifest lists (the
    study's status rules), choose each (task, variant)'s point, write ``out`` (JSON)."""
    manifest = json.loads(Path(manifest_path).read_text())
    tune, rules = manifest["tune"], StatusRules(**manifest["status_rules"])
    rows = []
    for run in manifest["runs"]:
        if run["stage"] != TUNE:
            continue
        summary, _ = read_run(Path(runs_dir) / run["run_id"], rules)
        spec = RunSpec.from_dict(run["spec"])
        rows.append(
            {k: run[k] for k in ("task", "variant", "seed")}
            | {k: summary.get(k) for k in ("status", LOSS, "initial_loss")}
            | {k: get_dotted(spec, k) for k in tune["grid"]}
        )
    chosen = choose(pd.DataFrame(rows), tune["grid"], tune["base_point"])
    choice = {
        "study": manifest["study"],
        "grid": tune["grid"],
        "choices": [{"task": t, "variant": v, "point": p} for (t, v), p in sorted(chosen.items())],
    }
    write_json(Path(out), choice)
    return choice
