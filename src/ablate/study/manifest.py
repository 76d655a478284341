"""What the study's later steps need to know about it, as plain JSON-able data: the
manifest (results/<study>/manifest.json: which runs make up the study, under which variant,
seed, task and stage) and the config's hash. Pure Python, no torch."""

from __future__ import annotations

import dataclasses
import hashlib

from ablate.data.references import reference_key
from ablate.spec.run_spec import canonical_json, status_rules
from ablate.study.execution import EXECUTION_KEYS
from ablate.study.tuning import tuning_of


def config_hash(config: dict) -> str:
    """What the study is, not how it executes: execution settings leave it alone."""
    what = {k: v for k, v in config.items() if k not in EXECUTION_KEYS}
    return hashlib.sha256(canonical_json(what).encode()).hexdigest()[:16]


def manifest(config: dict, runs: list) -> dict:
    """``runs``: expand.expand_study's Run objects."""
    """What the collect step needs to know about the study, as plain JSON-able data."""
    return {
        "study": config["study"],
        "config_hash": config_hash(config),
        "baseline": "baseline",
        "status_rules": dataclasses.asdict(status_rules(config.get("status"))),
        "tune": tune_entry(config),
        "runs": [
            {
                "run_id": r.run_id,
                "variant": r.variant,
                "seed": r.seed,
                "task": r.task,
                "group": r.group,
                "overrides": describe_overrides(r.overrides),
                "stage": r.stage,
                "tuned": describe_overrides(r.tuned),
                "ladder": r.ladder,
                "rung": r.rung,
                "spec": r.spec.to_dict(),
            }
            for r in runs
        ],
        "references": reference_entries(runs),
    }


def tune_entry(config: dict) -> dict | None:
    """The tuning the study did (study/tuning.py), for collect and the analysis."""
    tuning = tuning_of(config)
    if tuning is None:
        return None
    return {
        "grid": tuning.grid,
        "seeds": tuning.seeds,
        "variants": tuning.variants,
        "base_point": tuning.base_point(config),
    }


def reference_entries(runs: list) -> list[dict]:
    """One entry per (task, data config): the key of its references file
    (ablate.data.references.reference_key) and the task's variants that run on it."""
    entries: dict[tuple[str, str], dict] = {}
    for r in runs:
        key = reference_key(r.spec)
        entry = entries.setdefault((r.task, key), {"task": r.task, "key": key, "variants": []})
        if r.variant not in entry["variants"]:
            entry["variants"].append(r.variant)
    return list(entries.values())


def describe_overrides(overrides: dict) -> str:
    """'model.d_model=8, model.n_layer=1': a variant's changes for people to read ('' for
    the baseline). Programs read the values from the typed columns (tables.SPEC_COLUMNS)."""
    return ", ".join(f"{key}={value}" for key, value in sorted(overrides.items()))
