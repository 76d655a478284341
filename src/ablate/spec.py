"""A run spec: the fully resolved, typed description of one training run (``RunSpec``).

    RunSpec(model=ModelConfig(...), train=TrainConfig(...), data=DataConfig(...),
            seed=0, data_seed=0)

It travels typed from expansion (study.py) to training (train/loop.py) and, as flat
``model.*`` / ``train.*`` / ``data.*`` columns of runs.parquet (tables.SPEC_COLUMNS), to
analysis. Its plain-data form ``to_dict()`` is what spec.yaml holds and what is hashed:

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
import math
import types
import typing
from typing import Any

from ablate.config import SECTIONS, DataConfig, ModelConfig, StatusRules, TrainConfig
from ablate.registry import PRECISION

# The version of the code that decides a run's numbers: the model, the data, the training
# loop and what it records. It is part of every run's identity (``spec_hash``), so results
# of older numerics are never mixed with new ones: bump it when a change alters any number
# a run writes, and regenerate tests/golden_numerics.json (tests/test_numerics.py fails
# until both agree). Comments, refactors that keep the numbers, analysis and the report
# leave it alone, so they retrain nothing.
NUMERICS_VERSION = 2


class SpecError(ValueError):
    """A config value that cannot make a run. The message names the key and the value."""


def _type_ok(value: Any, hint: Any) -> bool:
    """Check a YAML value against a dataclass annotation (int | None, list[int], ...)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_type_ok(v, item) for v in value)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:  # YAML writes 1e-3 as a float but 1 as an int: accept both
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, hint)


def resolve_spec(sections: dict[str, dict], seed: int, data_seed: int | None = None) -> RunSpec:
    """Fill defaults and check types; raise SpecError naming the key on the first problem."""
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise SpecError(f"unknown section(s) {sorted(unknown)}; valid: {sorted(SECTIONS)}")
    resolved = {
        name: resolve_section(name, cls, sections.get(name)) for name, cls in SECTIONS.items()
    }
    return RunSpec(
        **resolved, seed=int(seed), data_seed=int(seed if data_seed is None else data_seed)
    )


def resolve_section(name: str, cls: type, given: dict | None):
    """One config section as its dataclass, defaults filled; SpecError names a bad key."""
    given = dict(given or {})
    hints = typing.get_type_hints(cls)
    for key, value in given.items():
        if key not in hints:
            raise SpecError(
                f"unknown key {name}.{key}={value!r}; valid keys: {', '.join(sorted(hints))}"
            )
        if not _type_ok(value, hints[key]):
            raise SpecError(f"{name}.{key}={value!r} has the wrong type (expected {hints[key]})")
        if isinstance(value, float) and not math.isfinite(value):
            # YAML's .nan and .inf: no rule can judge them, and the spec could not be hashed
            raise SpecError(f"{name}.{key}={value!r} must be a finite number")
        if isinstance(value, int) and not isinstance(value, bool) and hints[key] is float:
            given[key] = float(value)
    return cls(**given)


def status_rules(given: dict | None) -> StatusRules:
    """The study's ``status:`` section, checked; SpecError lists every bad value."""
    rules = resolve_section("status", StatusRules, given)
    checks = [
        ("spike_window", rules.spike_window >= 5, ">= 5"),
        ("spike_k", rules.spike_k > 0, "> 0"),
        ("max_spikes", rules.max_spikes >= 0, ">= 0"),
        ("collapse_threshold", 0 <= rules.collapse_threshold < 1, "in [0, 1)"),
        ("stall_fraction", 0 <= rules.stall_fraction < 1, "in [0, 1)"),
    ]
    errors = _failed("status", rules, checks)
    if errors:
        raise SpecError("; ".join(errors))
    return rules


def spec_errors(spec: RunSpec) -> list[str]:
    """Every value problem of a resolved spec, each message naming key and value."""
    # registry names are checked by the section checkers, each beside its own rules
    from ablate.data.layout import train_seq_len
    from ablate.data.sources import check_data_config
    from ablate.model.constraints import check_model_config

    model, train, data = spec.model, spec.train, spec.data
    errors = _train_errors(train) + check_model_config(model) + check_data_config(data)
    if model.vocab_size != 0:
        errors.append(f"model.vocab_size={model.vocab_size} is set from the data; leave it out")
    train_len = train_seq_len(data) if not errors else 0  # needs a known, valid task
    if train_len > model.context:
        what = "data.seq_len" if train_len == data.seq_len else "the task's sequence length"
        errors.append(
            f"{what} ({train_len}, data.task={data.task!r}) is longer than "
            f"model.context={model.context}"
        )
    return errors


def _train_errors(t: TrainConfig) -> list[str]:
    checks = [
        ("precision", t.precision in PRECISION, f"one of {', '.join(PRECISION)}"),
        ("steps", t.steps >= 1, ">= 1"),
        ("batch_size", t.batch_size >= 1, ">= 1"),
        ("lr", t.lr > 0, "> 0"),
        ("min_lr_ratio", 0 <= t.min_lr_ratio <= 1, "in [0, 1]"),
        ("warmup_steps", 0 <= t.warmup_steps <= t.steps, "in [0, train.steps]"),
        ("weight_decay", t.weight_decay >= 0, ">= 0"),
        ("beta1", 0 <= t.beta1 < 1, "in [0, 1)"),
        ("beta2", 0 <= t.beta2 < 1, "in [0, 1)"),
        ("grad_clip", t.grad_clip >= 0, ">= 0 (0 disables clipping)"),
        ("z_loss", t.z_loss >= 0, ">= 0"),
        ("eval_every", t.eval_every >= 1, ">= 1"),
        ("eval_batches", t.eval_batches >= 1, ">= 1"),
        ("probe_every", t.probe_every >= 1, ">= 1"),
        ("diverge_factor", t.diverge_factor > 1, "> 1"),
    ]
    return _failed("train", t, checks)


def _failed(section: str, values, checks: list[tuple[str, bool, str]]) -> list[str]:
    return [
        f"{section}.{key}={getattr(values, key)!r} must be {rule}"
        for key, ok, rule in checks
        if not ok
    ]


def check_spec(spec: RunSpec) -> RunSpec:
    errors = spec_errors(spec)
    if errors:
        raise SpecError("; ".join(errors))
    return spec


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run, fully resolved. ``to_dict()`` is its identity (spec_hash) and spec.yaml."""

    model: ModelConfig
    train: TrainConfig
    data: DataConfig
    seed: int
    data_seed: int
    # only with the study key device_in_identity (execution.py): the run trains only there
    device: str | None = None

    def to_dict(self) -> dict:
        spec: dict[str, Any] = {name: dataclasses.asdict(getattr(self, name)) for name in SECTIONS}
        spec["seed"], spec["data_seed"] = self.seed, self.data_seed
        if self.device is not None:  # absent otherwise: the ids of device-free runs stay
            spec["device"] = self.device
        return spec

    @classmethod
    def from_dict(cls, spec: dict) -> RunSpec:
        """The inverse of to_dict (a spec.yaml); SpecError names what does not fit."""
        if not isinstance(spec, dict):
            raise SpecError(f"a run spec is a mapping, not {type(spec).__name__}")
        keys = {f.name for f in dataclasses.fields(cls)}
        required = keys - {"device"}
        if not required <= set(spec) <= keys:
            raise SpecError(
                f"run spec keys {sorted(spec)}: expected {sorted(required)} (and optionally device)"
            )
        sections = {}
        for name, section in SECTIONS.items():
            try:
                sections[name] = section(**spec[name])
            except TypeError as error:  # an unknown or missing key of the section
                raise SpecError(f"run spec section {name!r}: {error}") from None
        return cls(
            **sections, seed=spec["seed"], data_seed=spec["data_seed"], device=spec.get("device")
        )

    def flat(self) -> dict[str, Any]:
        """{'model.d_model': 64, ..., 'data_seed': 0}: the run's columns of runs.parquet
        (tables.SPEC_COLUMNS); the seed is the study column ``seed``."""
        flat = {
            f"{name}.{key}": value
            for name in SECTIONS
            for key, value in dataclasses.asdict(getattr(self, name)).items()
        }
        flat["data_seed"] = self.data_seed
        return flat


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def spec_hash(spec: RunSpec | dict) -> str:
    """A run's identity: 16 hex digits of the SHA-256 of its canonical JSON together with
    the numerics version of the code that trains it (see NUMERICS_VERSION). A dict is a
    spec as spec.yaml holds it (RunSpec.to_dict())."""
    if isinstance(spec, RunSpec):
        spec = spec.to_dict()
    identity = {"numerics_version": NUMERICS_VERSION, "spec": spec}
    return hashlib.sha256(canonical_json(identity).encode()).hexdigest()[:16]


def set_dotted(sections: dict, dotted: str, value: Any) -> None:
    section, _, key = dotted.partition(".")
    sections.setdefault(section, {})[key] = value


def get_dotted(spec: RunSpec, dotted: str) -> Any:
    section, _, key = dotted.partition(".")
    return getattr(getattr(spec, section), key)
