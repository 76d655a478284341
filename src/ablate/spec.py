"""A run spec: the fully resolved, plain-data description of one training run.

    {"model": {...every ModelConfig field...}, "train": {...}, "data": {...},
     "seed": 0, "data_seed": 0}

Resolution fills every default, so two configs that mean the same run produce the same
spec and therefore the same hash: the hash names the run's directory, which is how an
identical run is computed once across variants and studies. Pure Python, no torch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from ablate.config import SECTIONS, DataConfig, ModelConfig, StatusRules, TrainConfig
from ablate.validation import config_errors, field_types, section_errors

# The version of the code that decides a run's numbers: the model, the data, the training
# loop and what it records. It is part of every run's identity (``spec_hash``), so results
# of older numerics are never mixed with new ones: bump it when a change alters any number
# a run writes, and regenerate tests/golden_numerics.json (tests/test_numerics.py fails
# until both agree). Comments, refactors that keep the numbers, analysis and the report
# leave it alone, so they retrain nothing.
NUMERICS_VERSION = 2


class SpecError(ValueError):
    """A config value that cannot make a run. The message names the key and the value;
    ``errors`` holds each problem on its own (the message joins them)."""

    def __init__(self, problems: str | list[str]):
        self.errors = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.errors))


def resolve_spec(sections: dict[str, dict], seed: int, data_seed: int | None = None) -> dict:
    """Fill defaults and check each value; SpecError names every bad key and value."""
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise SpecError(f"unknown section(s) {sorted(unknown)}; valid: {sorted(SECTIONS)}")
    spec: dict[str, Any] = {}
    errors = []
    for name, cls in SECTIONS.items():
        try:
            spec[name] = dataclasses.asdict(resolve_section(name, cls, sections.get(name)))
        except SpecError as e:
            errors += e.errors
    if errors:
        raise SpecError(errors)
    spec["seed"] = int(seed)
    spec["data_seed"] = int(seed if data_seed is None else data_seed)
    return spec


def resolve_section(name: str, cls: type, given: dict | None):
    """One config section as its dataclass, defaults filled; SpecError names every bad key
    and value (types and ranges: ``ablate.validation``, from the dataclass fields)."""
    given = dict(given or {})
    errors = section_errors(name, cls, given)
    if errors:
        raise SpecError(errors)
    hints = field_types(cls)
    for key, value in given.items():
        if isinstance(value, int) and not isinstance(value, bool) and hints[key] is float:
            given[key] = float(value)  # YAML writes 1e-3 as a float but 1 as an int
    return cls(**given)


def status_rules(given: dict | None) -> StatusRules:
    """The study's ``status:`` section, checked; SpecError lists every bad value."""
    return resolve_section("status", StatusRules, given)


def spec_errors(spec: dict) -> list[str]:
    """Every value problem of a resolved spec, each message naming key and value.

    Each key's own type and range come from its dataclass field (``ablate.validation``);
    the rules below join keys, and each variant's constraints come from its traits."""
    from ablate.data.layout import train_seq_len
    from ablate.data.sources import check_data_config
    from ablate.model.constraints import check_model_config

    model, train, data = to_configs(spec)[:3]
    train_errors = config_errors("train", train)
    if not train_errors and train.warmup_steps > train.steps:
        train_errors.append(
            f"train.warmup_steps={train.warmup_steps} must be at most train.steps={train.steps}"
        )
    model_errors, data_errors = check_model_config(model), check_data_config(data)
    errors = train_errors + model_errors + data_errors
    if model_errors or data_errors:  # the rules below assume valid model and data values
        return errors
    if model.vocab_size != 0:
        errors.append(f"model.vocab_size={model.vocab_size} is set from the data; leave it out")
    train_len = train_seq_len(data)
    if train_len > model.context:
        what = "data.seq_len" if train_len == data.seq_len else "the task's sequence length"
        errors.append(
            f"{what} ({train_len}, data.task={data.task!r}) is longer than "
            f"model.context={model.context}"
        )
    return errors


def check_spec(spec: dict) -> dict:
    errors = spec_errors(spec)
    if errors:
        raise SpecError(errors)
    return spec


def to_configs(spec: dict) -> tuple[ModelConfig, TrainConfig, DataConfig, int, int]:
    return (
        ModelConfig(**spec["model"]),
        TrainConfig(**spec["train"]),
        DataConfig(**spec["data"]),
        spec["seed"],
        spec["data_seed"],
    )


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def spec_hash(spec: dict) -> str:
    """A run's identity: 16 hex digits of the SHA-256 of its canonical JSON together with
    the numerics version of the code that trains it (see NUMERICS_VERSION)."""
    identity = {"numerics_version": NUMERICS_VERSION, "spec": spec}
    return hashlib.sha256(canonical_json(identity).encode()).hexdigest()[:16]


def set_dotted(sections: dict, dotted: str, value: Any) -> None:
    section, _, key = dotted.partition(".")
    sections.setdefault(section, {})[key] = value


def get_dotted(spec: dict, dotted: str) -> Any:
    section, _, key = dotted.partition(".")
    return spec[section][key]
