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
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ablate.data.sources import data_file_errors
from ablate.spec.config import DataConfig
from ablate.spec.run_spec import (
    RunSpec,
    SpecError,
    canonical_json,
    get_dotted,
    resolve_spec,
    set_dotted,
    spec_errors,
    spec_hash,
    status_rules,
)
from ablate.study.execution import execution, execution_errors
from ablate.study.manifest import describe_overrides
from ablate.study.schema import schema_errors, study_name_errors
from ablate.study.tuning import COMPARE, TUNE, tuning_errors, tuning_of


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
    spec: RunSpec  # fully resolved run spec
    stage: str = COMPARE  # "tune": a tuning run (study/tuning.py); "compare": the study's
    tuned: dict = dataclasses.field(default_factory=dict)  # tuned key -> value of this run


@dataclass(frozen=True)
class Variant:
    name: str
    group: str
    overrides: dict


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
    made = [(Variant("baseline", "base", {}), "base")]  # each variant, and the key making it
    for key, values in (config.get("ablations") or {}).items():
        for value in values:
            if _base_value(base, key) == value:
                continue
            variant = Variant(f"{_short(key)}={_fmt(value)}", key, {key: value})
            made.append((variant, f"ablations.{key}={value!r}"))
    for grid, axes in (config.get("grids") or {}).items():
        keys = list(axes)
        for combo in itertools.product(*(axes[k] for k in keys)):
            label = ",".join(f"{_short(k)}={_fmt(v)}" for k, v in zip(keys, combo, strict=True))
            overrides = dict(zip(keys, combo, strict=True))
            where = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
            made.append((Variant(f"{grid}/{label}", grid, overrides), f"grids.{grid} ({where})"))
    # two variants of one name would be one row of the study tables: name where each comes from
    first: dict[str, str] = {}
    errors = []
    for variant, where in made:
        if variant.name in first:
            errors.append(
                f"{where} makes variant {variant.name!r} a second time (first made by "
                f"{first[variant.name]}); list each value once"
            )
        first.setdefault(variant.name, where)
    if errors:
        raise ConfigError(_message(errors))
    return [variant for variant, _ in made]


def expand_study(
    config: dict, check_schema: bool = True, root: str | Path = ".", choice: dict | None = None
) -> list[Run]:
    """Validate the config and expand it into runs. Raises ConfigError listing every problem.

    ``root`` is where a relative ``data.path`` is read from: the directory the jobs run in
    (Snakemake's working directory), as at training time.

    With a ``tune`` section (study/tuning.py) a tuned variant's runs are its tuning runs
    (stage "tune"), and, once ``choice`` maps its (task, variant) to the chosen point
    ({dotted key: value}), also its runs at the study's seeds there (stage "compare").
    An untuned variant's runs are its study runs, as without tuning.
    """
    errors = schema_errors(config) if check_schema else []
    if isinstance(config, dict):
        errors += study_name_errors(config.get("study"))
    if errors:
        raise ConfigError(_message(errors))
    tasks = config.get("tasks") or {None: {}}
    runs, errors = [], execution_errors(config)
    ex = execution(config)
    base_problems: set[str] = set()  # reported once for the baseline, not for every variant
    file_problems: dict[str, list[str]] = {}  # data section -> its file's problems, read once
    all_variants = variants(config)
    tuning = tuning_of(config)
    tune_problems = tuning_errors(config, all_variants, _selected, tasks)
    if tune_problems:  # reported as they are, not again for each run at each grid point
        errors += tune_problems
        tuning = None
    for task_name, task in tasks.items():
        errors += _unmatched_patterns(task_name, task.get("variants") or [], all_variants)
        selected = [v for v in all_variants if _selected(v, task.get("variants"))]
        for variant in selected:
            sections = copy.deepcopy(config.get("base") or {})
            for section in ("model", "train", "data"):
                sections.setdefault(section, {}).update(task.get(section) or {})
            for key, value in variant.overrides.items():
                set_dotted(sections, key, value)
            where = f"variant {variant.name!r}" + (f" of task {task_name!r}" if task_name else "")
            name = task_name or sections["data"].get("task", DataConfig().task)
            # (stage, point, seeds): what this variant trains (study/tuning.py)
            plan = [(COMPARE, {}, config["seeds"])]
            if tuning is not None and _selected(variant, tuning.variants):
                plan = [(TUNE, point, tuning.seeds) for point in tuning.points()]
                chosen = (choice or {}).get((name, variant.name))
                if chosen is not None:
                    plan.append((COMPARE, chosen, config["seeds"]))
            for stage, point, seeds in plan:
                at = copy.deepcopy(sections)
                for key, value in point.items():
                    set_dotted(at, key, value)
                for seed in seeds:
                    try:
                        spec = resolve_spec(at, seed)
                        problems = spec_errors(spec) or _file_problems(spec, root, file_problems)
                    except SpecError as e:
                        problems = e.errors
                    if problems:
                        if point:
                            where_point = f"{where} at tune point {describe_overrides(point)}"
                            problems = [f"{where_point}: {p}" for p in problems]
                        if variant.group == "base":
                            base_problems.update(problems)
                        errors.extend(
                            p if point else f"{where}: {p}"
                            for p in problems
                            if variant.group == "base" or p not in base_problems
                        )
                        break
                    if ex.device_in_identity:  # opt-in: one run per device (see execution.py)
                        spec = dataclasses.replace(spec, device=ex.device)
                    runs.append(
                        Run(
                            spec_hash(spec),
                            variant.name,
                            seed,
                            task_name or spec.data.task,
                            variant.group,
                            variant.overrides,
                            spec,
                            stage,
                            dict(point),
                        )
                    )
    try:
        status_rules(config.get("status"))
    except SpecError as e:
        errors.append(str(e))
    if errors:
        raise ConfigError(_message(errors))
    return runs


def comparison_candidates(config: dict) -> list[list[Run]]:
    """Before a tuned study's choice: each comparison run of a tuned variant as the runs it
    could be, one per grid point (for the estimate, which prices it at the costliest)."""
    tuning = tuning_of(config)
    if tuning is None:
        return []
    by_point = []
    for point in tuning.points():
        choice = _every_variant_at(config, point)
        by_point.append(
            [r for r in expand_study(config, choice=choice) if r.tuned and r.stage == COMPARE]
        )
    return [list(candidates) for candidates in zip(*by_point, strict=True)]


def _every_variant_at(config: dict, point: dict) -> dict:
    """A choice of ``point`` for every (task, variant) (tuned or not: only the tuned read it)."""
    names = [v.name for v in variants(config)]
    tasks = [
        t or (config.get("base") or {}).get("data", {}).get("task", DataConfig().task)
        for t in (config.get("tasks") or {None: {}})
    ]
    return {(task, name): point for task in tasks for name in names}


def _message(errors: list[str]) -> str:
    return "invalid config:\n  " + "\n  ".join(dict.fromkeys(errors))


def _file_problems(spec: RunSpec, root: str | Path, cache: dict[str, list[str]]) -> list[str]:
    """The data file's problems; many runs share one data section, so each is read once."""
    key = canonical_json(dataclasses.asdict(spec.data))
    if key not in cache:
        cache[key] = data_file_errors(spec.data, root)
    return cache[key]


def _unmatched_patterns(task_name: str | None, patterns: list[str], all_variants) -> list[str]:
    """A pattern that selects nothing is a typo that would silently drop variants."""
    names = ", ".join(v.name for v in all_variants)
    return [
        f"tasks.{task_name}.variants: {p!r} matches no variant or group; variants: {names}"
        for p in patterns
        if not any(_selected(v, [p]) for v in all_variants)
    ]


def load_config(path: str | Path) -> dict:
    return yaml.safe_load(Path(path).read_text())


def _selected(variant: Variant, patterns: list[str] | None) -> bool:
    if not patterns:
        return True
    return any(fnmatch.fnmatchcase(variant.name, p) or variant.group == p for p in patterns)


def _base_value(base: dict, dotted: str) -> Any:
    """The value the baseline runs with: given in base, else the dataclass default."""
    try:
        return get_dotted(resolve_spec(base, 0), dotted)
    except (SpecError, AttributeError):
        return None  # an invalid base is reported by expand_study itself


def _short(dotted: str) -> str:
    return dotted.split(".", 1)[1]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if value is None:
        return "none"
    return str(value)
