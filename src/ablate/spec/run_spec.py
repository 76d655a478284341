"""A run spec: the fully resolved, typed description of one training run (``RunSpec``).

    RunSpec(model=ModelConfig(...), train=TrainConfig(...), data=DataConfig(...),
            probes=ProbeConfig(...), seed=0, data_seed=0)

It travels typed from expansion (study.py) to training (train/loop.py) and, as flat
``model.*`` / ``train.*`` / ``data.*`` columns of runs.parquet (tables.SPEC_COLUMNS), to
analysis. Its plain-data form ``to_dict()`` is what spec.yaml holds and what is hashed:

    {"model": {...every ModelConfig field...}, "train": {...}, "data": {...},
     "probes": {...}, "seed": 0, "data_seed": 0}

Resolution fills every default, so two configs that mean the same run produce the same
spec and therefore the same hash: the hash names the run's directory, which is how an
identical run is computed once across variants and studies. Pure Python, no torch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from ablate.spec.config import (
    SECTIONS,
    DataConfig,
    ModelConfig,
    ProbeConfig,
    StatusRules,
    TrainConfig,
)
from ablate.spec.constraints import check_data_config, check_model_config
from ablate.spec.task_lengths import train_seq_len
from ablate.spec.validation import config_errors, field_types, section_errors

# The version of the code that decides a run's numbers: the model, the data, the training
# loop and what it records. It is part of every run's identity (``spec_hash``), so results
# of older numerics are never mixed with new ones: bump it when a change alters any number
# a run writes, and regenerate tests/golden_numerics.json (tests/test_numerics.py fails
# until both agree). Comments, refactors that keep the numbers, analysis and the report
# leave it alone, so they retrain nothing.
NUMERICS_VERSION = 2

# Keys added after runs already existed, with the value every older run had in effect: a
# spec leaves such a key out of its identity while it holds that value, so adding a key
# retrains nothing (spec.yaml still lists it). A key's entry stays here for good.
LATER_KEYS = {
    "model": {"parametrization": "sp", "mup_base_width": None, "softmax_one": False},
    "train": {"schedule": "cosine", "decay_fraction": 0.2},
}


class SpecError(ValueError):
    """A config value that cannot make a run. The message names the key and the value;
    ``errors`` holds each problem on its own (the message joins them)."""

    def __init__(self, problems: str | list[str]):
        self.errors = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.errors))


def resolve_spec(sections: dict[str, dict], seed: int, data_seed: int | None = None) -> RunSpec:
    """Fill defaults and check each value; SpecError names every bad key and value."""
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise SpecError(f"unknown section(s) {sorted(unknown)}; valid: {sorted(SECTIONS)}")
    resolved = {}
    errors = []
    for name, cls in SECTIONS.items():
        try:
            resolved[name] = resolve_section(name, cls, sections.get(name))
        except SpecError as e:
            errors += e.errors
    if errors:
        raise SpecError(errors)
    return RunSpec(
        **resolved, seed=int(seed), data_seed=int(seed if data_seed is None else data_seed)
    )


def resolve_section(name: str, cls: type, given: dict | None):
    """One config section as its dataclass, defaults filled; SpecError names every bad key
    and value (types and ranges: ``ablate.spec.validation``, from the dataclass fields)."""
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


def spec_errors(spec: RunSpec) -> list[str]:
    """Every value problem of a resolved spec, each message naming key and value.

    Each key's own type and range come from its dataclass field (``ablate.spec.validation``);
    the rules below join keys, and each variant's constraints come from its traits."""
    model, train, data = spec.model, spec.train, spec.data
    train_errors = config_errors("train", train)
    if not train_errors and train.warmup_steps > train.steps:
        train_errors.append(
            f"train.warmup_steps={train.warmup_steps} must be at most train.steps={train.steps}"
        )
    model_errors, data_errors = check_model_config(model), check_data_config(data)
    errors = train_errors + model_errors + data_errors + _probe_errors(spec)
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


def _probe_errors(spec: RunSpec) -> list[str]:
    """The instruments take their batches from the training batch (train/instruments.py)."""
    p, batch = spec.probes, spec.train.batch_size
    errors = config_errors("probes", p)
    if errors:
        return errors
    if p.noise_scale and p.noise_micro_batches > batch:
        errors.append(
            f"probes.noise_micro_batches={p.noise_micro_batches} must be at most "
            f"train.batch_size={batch} (each micro-batch holds at least one sequence)"
        )
    if p.sharpness and p.sharpness_batch > batch:
        errors.append(
            f"probes.sharpness_batch={p.sharpness_batch} must be at most train.batch_size={batch}"
        )
    return errors


def check_spec(spec: RunSpec) -> RunSpec:
    errors = spec_errors(spec)
    if errors:
        raise SpecError(errors)
    return spec


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run, fully resolved. ``to_dict()`` is its identity (spec_hash) and spec.yaml."""

    model: ModelConfig
    train: TrainConfig
    data: DataConfig
    probes: ProbeConfig
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
    the numerics version of the code that trains it (see NUMERICS_VERSION), less the later
    keys at their earlier value (LATER_KEYS). A dict is a spec as spec.yaml holds it
    (RunSpec.to_dict())."""
    if isinstance(spec, RunSpec):
        spec = spec.to_dict()
    spec = dict(spec)
    for section, later in LATER_KEYS.items():
        spec[section] = {k: v for k, v in spec[section].items() if k not in later or later[k] != v}
    identity = {"numerics_version": NUMERICS_VERSION, "spec": spec}
    return hashlib.sha256(canonical_json(identity).encode()).hexdigest()[:16]


def set_dotted(sections: dict, dotted: str, value: Any) -> None:
    section, _, key = dotted.partition(".")
    sections.setdefault(section, {})[key] = value


def get_dotted(spec: RunSpec, dotted: str) -> Any:
    section, _, key = dotted.partition(".")
    return getattr(getattr(spec, section), key)
