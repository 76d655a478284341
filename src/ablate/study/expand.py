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
from ablate.spec.config import VARIANT_SECTIONS, DataConfig
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
from ablate.study.ladder import ladder_errors, ladder_of, rung_name
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
    ladder: str = ""  # the variant whose size ladder this run is on (study/ladder.py)
    rung: bool = False  # an extra rung of that ladder, not a variant of the comparison


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
    ladder = ladder_of(config)
    ladder_problems = ladder_errors(config, all_variants, _selected)
    if ladder_problems:
        errors += ladder_problems
        ladder = None
    for task_name, task in tasks.items():
        errors += _unmatched_patterns(task_name, task.get("variants") or [], all_variants)
        selected = [v for v in all_variants if _selected(v, task.get("variants"))]
        for variant in selected:
            sections = copy.deepcopy(config.get("base") or {})
            for section in VARIANT_SECTIONS:
                sections.setdefault(section, {}).update(task.get(section) or {})
            sections["probes"] = dict(config.get("probes") or {})  # study-wide instruments
            for key, value in variant.overrides.items():
                set_dotted(sections, key, value)
            where = f"variant {variant.name!r}" + (f" of task {task_name!r}" if task_name else "")
            name = task_name or sections["data"].get("task", DataConfig().task)
            on = ladder is not None and _selected(variant, ladder.variants)
            plan = _plan(
                variant, sections, config["seeds"], tuning, ladder if on else None, choice, name
            )
            for stage, rung, point, seeds, label in plan:
                at = copy.deepcopy(sections)
                for key, value in (rung | point).items():
                    set_dotted(at, key, value)
                for seed in seeds:
                    try:
                        spec = resolve_spec(at, seed)
                        problems = spec_errors(spec) or _file_problems(spec, root, file_problems)
                    except SpecError as e:
                        problems = e.errors
                    if problems:
                        plain = variant.group == "base" and not (rung or point)
                        if plain:
                            base_problems.update(problems)
                        here = where  # named with its rung and grid point
                        if rung:
                            here += f" at scaling rung {describe_overrides(rung)}"
                        if point:
                            here += f" at tune point {describe_overrides(point)}"
                        errors.extend(
                            f"{here}: {p}" for p in problems if plain or p not in base_problems
                        )
                        break
                    if ex.device_in_identity:  # opt-in: one run per device (see execution.py)
                        spec = dataclasses.replace(spec, device=ex.device)
                    runs.append(
                        Run(
                            spec_hash(spec),
                            label,
                            seed,
                            task_name or spec.data.task,
                            "ladder" if rung else variant.group,
                            variant.overrides | rung,
                            spec,
                            stage,
                            dict(point),
                            variant.name if on and (rung or stage == COMPARE) else "",
                            bool(rung),
                        )
                    )
    try:
        status_rules(config.get("status"))
    except SpecError as e:
        errors.append(str(e))
    if errors:
        raise ConfigError(_message(errors))
    return runs


def _plan(variant, sections, seeds, tuning, ladder, choice, name) -> list[tuple]:
    """What one (task, variant) trains: (stage, rung point, tune point, seeds, run name)
    entries. A tuned variant: its tuning runs, then (once chosen) its comparison runs; an
    untuned one: its comparison runs. On a ladder, each other rung likewise: tuned itself,
    at the variant's chosen point (``transfer``), or as configured (an untuned variant)."""
    tuned = tuning is not None and _selected(variant, tuning.variants)

    def stages(rung: dict, label: str, transfer: bool) -> list[tuple]:
        if not tuned:
            return [(COMPARE, rung, {}, seeds, label)]
        chosen = (choice or {}).get((name, variant.name if transfer else label))
        tune = [] if transfer else [(TUNE, rung, p, tuning.seeds, label) for p in tuning.points()]
        return tune + ([] if chosen is None else [(COMPARE, rung, chosen, seeds, label)])

    plan = stages({}, variant.name, False)
    if ladder is not None:  # its ladder's other rungs (the rung at its own value: its runs)
        own = _resolved(sections)
        for rung in ladder.rungs():
            if own is None or all(get_dotted(own, k) == v for k, v in rung.items()):
                continue
            plan += stages(rung, rung_name(variant.name, rung), ladder.transfer)
    return plan


def _resolved(sections: dict) -> RunSpec | None:
    """The spec of these sections (seed 0), None if invalid (the seeds' loop reports why)."""
    try:
        return resolve_spec(sections, 0)
    except SpecError:
        return None


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
