"""A study config -> the runs it asks for (variants x tasks x seeds). Pure Python, no torch.

    study: ablations
    seeds: [0, 1, 2]
    base: {model: {...}, train: {...}, data: {...}}
    ablations:                 # one factor at a time against base: each value is a variant
      model.n_head: [1, 2, 8]
    grids:                     # named full-factorial grids: each combination is a variant
      size: {model.d_model: [32, 64], model.n_layer: [1, 2]}
    tasks:                     # optional: run the variants on several tasks
      shakespeare: {}                                    # base as it is
      induction: {data: {task: induction}, train: {steps: 800}, variants: [baseline, "n_layer=*"]}

Variant names: ``baseline``, ``n_head=8`` (ablation of model.n_head), ``size/d_model=32,n_layer=1``.
An ablation value equal to the base value is the baseline itself and is skipped.
"""

from __future__ import annotations

import copy
import dataclasses
import fnmatch
import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ablate.spec import (
    SpecError,
    canonical_json,
    get_dotted,
    resolve_spec,
    set_dotted,
    spec_errors,
    spec_hash,
    status_rules,
)

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """The study config is invalid. The message lists every problem found, key by key."""


@dataclass(frozen=True)
class Run:
    run_id: str
    variant: str
    seed: int
    task: str
    group: str  # "base", the ablated key, or the grid name
    overrides: dict  # dotted key -> value, the variant's changes against base
    spec: dict  # fully resolved run spec


@dataclass(frozen=True)
class Variant:
    name: str
    group: str
    overrides: dict


def schema_errors(config: dict, schema_path: Path = SCHEMA) -> list[str]:
    """All JSON-schema violations, each with the path of the offending key."""
    import jsonschema  # imported here: only the validating caller pays for it

    schema = yaml.safe_load(schema_path.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = []
    for err in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.path))):
        path = [str(p) for p in err.absolute_path]
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            # name the misspelled key itself, and what it could have been
            valid = sorted(err.schema.get("properties", {}))
            for extra in sorted(set(err.instance) - set(valid)):
                key = ".".join([*path, extra])
                errors.append(f"{key}: unknown key; valid keys here: {', '.join(valid)}")
            continue
        errors.append(f"{'.'.join(path) or '<top level>'}: {err.message}")
    return errors


def from_command_line(config: dict) -> dict:
    """Undo Snakemake's typing of ``--config`` lists: ``seeds=[0,1,2]`` arrives as
    ['0', '1', '2']. Integer-looking seeds become ints; anything else is left for the
    schema to reject with its key named."""
    seeds = config.get("seeds")
    if isinstance(seeds, list):
        config = dict(config)
        config["seeds"] = [
            int(s) if isinstance(s, str) and s.strip().lstrip("-").isdigit() else s for s in seeds
        ]
    return config


def variants(config: dict) -> list[Variant]:
    base = config.get("base") or {}
    out = [Variant("baseline", "base", {})]
    for key, values in (config.get("ablations") or {}).items():
        for value in values:
            if _base_value(base, key) == value:
                continue
            out.append(Variant(f"{_short(key)}={_fmt(value)}", key, {key: value}))
    for grid, axes in (config.get("grids") or {}).items():
        keys = list(axes)
        for combo in itertools.product(*(axes[k] for k in keys)):
            label = ",".join(f"{_short(k)}={_fmt(v)}" for k, v in zip(keys, combo, strict=True))
            out.append(Variant(f"{grid}/{label}", grid, dict(zip(keys, combo, strict=True))))
    names = [v.name for v in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"variant names are not unique: {dupes}")
    return out


def expand_study(config: dict, check_schema: bool = True) -> list[Run]:
    """Validate the config and expand it into runs. Raises ConfigError listing every problem."""
    errors = schema_errors(config) if check_schema else []
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(errors))
    tasks = config.get("tasks") or {None: {}}
    runs, errors = [], []
    base_problems: set[str] = set()  # reported once for the baseline, not for every variant
    all_variants = variants(config)
    for task_name, task in tasks.items():
        selected = [v for v in all_variants if _selected(v, task.get("variants"))]
        if task_name is not None and not selected:
            errors.append(f"tasks.{task_name}.variants={task.get('variants')!r} selects no variant")
        for variant in selected:
            sections = copy.deepcopy(config.get("base") or {})
            for section in ("model", "train", "data"):
                sections.setdefault(section, {}).update(task.get(section) or {})
            for key, value in variant.overrides.items():
                set_dotted(sections, key, value)
            where = f"variant {variant.name!r}" + (f" of task {task_name!r}" if task_name else "")
            for seed in config["seeds"]:
                try:
                    spec = resolve_spec(sections, seed)
                    problems = spec_errors(spec)
                except SpecError as e:
                    problems = [str(e)]
                if problems:
                    if variant.group == "base":
                        base_problems.update(problems)
                    errors.extend(
                        f"{where}: {p}"
                        for p in problems
                        if variant.group == "base" or p not in base_problems
                    )
                    break
                name = task_name or spec["data"]["task"]
                runs.append(
                    Run(
                        spec_hash(spec),
                        variant.name,
                        seed,
                        name,
                        variant.group,
                        variant.overrides,
                        spec,
                    )
                )
    try:
        status_rules(config.get("status"))
    except SpecError as e:
        errors.append(str(e))
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(dict.fromkeys(errors)))
    return runs


def load_config(path: str | Path) -> dict:
    return yaml.safe_load(Path(path).read_text())


def config_hash(config: dict) -> str:
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()[:16]


def manifest(config: dict, runs: list[Run]) -> dict:
    """What the collect step needs to know about the study, as plain JSON-able data."""
    return {
        "study": config["study"],
        "config_hash": config_hash(config),
        "baseline": "baseline",
        "status_rules": dataclasses.asdict(status_rules(config.get("status"))),
        "runs": [
            {
                "run_id": r.run_id,
                "variant": r.variant,
                "seed": r.seed,
                "task": r.task,
                "group": r.group,
                "overrides": canonical_json(r.overrides),
                "spec": canonical_json(r.spec),
            }
            for r in runs
        ],
    }


def _selected(variant: Variant, patterns: list[str] | None) -> bool:
    if not patterns:
        return True
    return any(fnmatch.fnmatchcase(variant.name, p) or variant.group == p for p in patterns)


def _base_value(base: dict, dotted: str) -> Any:
    """The value the baseline runs with: given in base, else the dataclass default."""
    try:
        return get_dotted(resolve_spec(base, 0), dotted)
    except (SpecError, KeyError):
        return None  # an invalid base is reported by expand_study itself


def _short(dotted: str) -> str:
    return dotted.split(".", 1)[1]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if value is None:
        return "none"
    return str(value)
