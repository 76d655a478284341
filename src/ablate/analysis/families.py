"""Families: sets of variants whose run specs are identical except for a few chosen keys.

An LR sweep is the family that differs only in train.lr; a scaling family differs only in
size keys (d_model, n_layer, ...). Families are found from the resolved specs in
runs.parquet, not from variant names, so an ablation ("lr=0.003") and a grid point
("lrgrid/lr=0.003,qk_norm=True") are grouped by what they run, whatever they are called.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from ablate.analysis.load import describe_difference, reference_variant, variant_specs


@dataclass(frozen=True)
class Family:
    task: str
    name: str  # what the family holds fixed, against the task's baseline ('base' if nothing)
    variants: tuple[str, ...]  # one variant per distinct spec, baseline first if present
    values: tuple[dict, ...]  # the varying keys of each variant, e.g. {"train.lr": 0.003}


def find_families(runs: pd.DataFrame, vary: set[str], baseline: str = "baseline") -> list[Family]:
    """Every group of >= 2 variants (per task) whose specs differ only in the keys `vary`."""
    specs = variant_specs(runs)
    out = []
    for task in sorted(runs["task"].unique()):
        names = sorted(v for t, v in specs if t == task)
        reference = specs[(task, reference_variant(names, baseline))]
        # baseline first, so when two variants run the same spec the baseline names it
        ordered = sorted(names, key=lambda v: (v != baseline, v))
        groups: dict[str, dict[str, str]] = {}  # fixed part -> {varying part: variant}
        for variant in ordered:
            spec = specs[(task, variant)]
            fixed = json.dumps({k: v for k, v in spec.items() if k not in vary}, sort_keys=True)
            varying = json.dumps({k: spec.get(k) for k in sorted(vary)}, sort_keys=True)
            groups.setdefault(fixed, {}).setdefault(varying, variant)
        for members in groups.values():
            if len(members) < 2:
                continue
            variants = tuple(members.values())
            name = describe_difference(specs[(task, variants[0])], reference, ignore=vary)
            values = tuple(json.loads(v) for v in members)
            out.append(Family(task, name, variants, values))
    return sorted(out, key=lambda f: (f.task, f.name != "base", f.name))
