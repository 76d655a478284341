"""A study's ``tune:`` section: each (task, variant) at its own best value of some keys,
chosen on seeds the comparison never sees. Pure Python, no torch.

    tune:
      train.lr: [1.0e-3, 3.0e-3, 1.0e-2]   # several keys form a grid
      seeds: [100]                         # tuning seeds: disjoint from the study's seeds
      variants: ["*"]                      # which variants are tuned (default: every one)

Two stages. Stage 1 (``tune``) trains every tuned (task, variant) at every grid point and
tuning seed. The choice (ablate.analysis.tuning_choice.choose) takes, per (task, variant), the
point with the lowest mean final validation loss over the tuning seeds. Stage 2
(``compare``) trains every (task, variant) at every study seed: a tuned variant at its
chosen point, an untuned one as configured. Every statistic of the study comes from stage
2 alone, so the values were picked on other draws than the ones they are judged on (picking
the best of several noisy values and scoring it on the same runs favours whichever value
got lucky: a winner's curse). The baseline is tuned like any variant.

Both stages are ordinary runs: a run's id is the hash of its spec, so a tuning run is
shared by every study that trains it, and a stage-2 run at the configured value is the
untuned study's run.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import typing
from dataclasses import dataclass

from ablate.spec.config import SECTIONS
from ablate.spec.run_spec import get_dotted, resolve_spec
from ablate.spec.stages import COMPARE, TUNE  # noqa: F401 (the study's names for them)
from ablate.spec.validation import value_errors

OPTIONS = ("seeds", "variants")  # the section's keys that are not tuned keys


@dataclass(frozen=True)
class Tuning:
    grid: dict[str, list]  # dotted key -> its values, in the config's order
    seeds: list[int]
    variants: list[str]  # fnmatch patterns of variant or group names

    def points(self) -> list[dict]:
        """Every combination of the grid's values, {dotted key: value}, in grid order."""
        keys = list(self.grid)
        return [
            dict(zip(keys, combo, strict=True)) for combo in itertools.product(*self.grid.values())
        ]

    def base_point(self, config: dict) -> dict:
        """The base config's value of each tuned key: what an untuned study shares."""
        spec = resolve_spec(config.get("base") or {}, 0)
        return {key: get_dotted(spec, key) for key in self.grid}


def tuning_of(config: dict) -> Tuning | None:
    """The study's tuning, None if it has no ``tune`` section (call after the schema check)."""
    section = config.get("tune")
    if not section:
        return None
    grid = {k: list(v) for k, v in section.items() if k not in OPTIONS}
    return Tuning(grid, list(section.get("seeds") or []), list(section.get("variants") or ["*"]))


def numeric(dotted: str) -> bool | None:
    """Whether the key ``section.name`` holds a number (None: no such key)."""
    section, _, name = dotted.partition(".")
    cls = SECTIONS.get(section)
    if cls is None or name not in {f.name for f in dataclasses.fields(cls)}:
        return None
    kinds = set(typing.get_args(typing.get_type_hints(cls)[name])) or {
        typing.get_type_hints(cls)[name]
    }
    return bool(kinds & {int, float}) and bool not in kinds


def tuning_errors(config: dict, variants, selected, tasks: dict) -> list[str]:
    """Every problem of the ``tune`` section, each naming its key and value.

    ``variants``: all the study's variants (expand.variants); ``selected(v, patterns)``:
    whether patterns select variant v; ``tasks``: the tasks section (or {None: {}})."""
    tuning = tuning_of(config)
    if tuning is None:
        return []
    errors = []
    if not tuning.grid:
        errors.append("tune: names no key to tune; e.g. tune: {train.lr: [1.0e-3, 3.0e-3]}")
    for key, values in tuning.grid.items():
        kind = numeric(key)
        if kind is None:
            section = key.partition(".")[0]
            known = ", ".join(f.name for f in dataclasses.fields(SECTIONS[section]))
            errors.append(f"tune.{key}: unknown key; {section} has {known}")
            continue
        if not kind:
            errors.append(f"tune.{key}: not a numeric key; only int and float keys are tuned")
            continue
        if len(values) < 2:
            errors.append(f"tune.{key}={values!r}: a tuning grid needs at least 2 values")
        section, _, name = key.partition(".")
        for value in values:
            errors += [f"tune.{e}" for e in value_errors(section, SECTIONS[section], name, value)]
    overlap = sorted(set(tuning.seeds) & set(config.get("seeds") or []))
    if overlap:
        errors.append(
            f"tune.seeds={tuning.seeds!r} shares seed(s) {overlap} with seeds: the comparison "
            "must not see the runs its values were chosen on; use other tuning seeds"
        )
    names = ", ".join(v.name for v in variants)
    for pattern in tuning.variants:
        if not any(selected(v, [pattern]) for v in variants):
            errors.append(
                f"tune.variants: {pattern!r} matches no variant or group; variants: {names}"
            )
    tuned = [v for v in variants if selected(v, tuning.variants)]
    for key in tuning.grid:
        for v in variants:
            if key in v.overrides:
                errors.append(
                    f"tune.{key}: variant {v.name!r} sets {key} itself; with {key} tuned, "
                    "each variant runs at its own best value: drop the variant, or do not "
                    "tune the key"
                )
        section, _, name = key.partition(".")
        for task_name, task in tasks.items():
            runs_tuned = any(selected(v, task.get("variants")) for v in tuned)
            if runs_tuned and name in (task.get(section) or {}):
                errors.append(
                    f"tune.{key}: task {task_name!r} sets {key} (tasks.{task_name}.{key}); "
                    "the grid would replace it: set the grid instead"
                )
    return errors


def read_choice(path) -> dict:
    """The tuning job's choice (ablate.analysis.tuning_choice.choose_study): (task, variant) ->
    the chosen point {dotted key: value}."""
    with open(path) as f:
        return {(c["task"], c["variant"]): c["point"] for c in json.load(f)["choices"]}
