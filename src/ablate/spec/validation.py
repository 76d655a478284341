"""Each config key's type and range, stated once, checked everywhere from that statement.

The statement is the dataclass field in ``ablate.spec.config``: its annotation (the type), its
``key(...)`` bounds (the range) and ``registry.CHOICES`` (the names a string key takes).
From it this module generates the key's JSON schema, which serves twice:

    the study schema   ``study_checks`` fills the per-key part of
                       src/ablate/study/config.schema.yaml with :func:`section_schema`
    one value          :func:`value_errors` validates a resolved value (an ablation value,
                       a spec given to ``ablate train``) against the same key schema

Pure Python, no torch. Rules that join several keys are not here (``ablate.spec.run_spec``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from typing import Any

from ablate.spec.registry import CHOICES

JSON_TYPES = {int: "integer", float: "number", bool: "boolean", str: "string"}
JSON_BOUNDS = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum"}


def _type_schema(hint: Any) -> dict:
    """The JSON schema of a type annotation (int | None, list[int], ...)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        parts = [_type_schema(h) for h in typing.get_args(hint)]
        if all(set(p) == {"type"} for p in parts):
            return {"type": [p["type"] for p in parts]}
        return {"anyOf": parts}
    if hint is type(None):
        return {"type": "null"}
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint)
        return {"type": "array", "items": _type_schema(item)}
    return {"type": JSON_TYPES[hint]}


def _bounds_schema(bounds: dict) -> dict:
    return {JSON_BOUNDS[rule]: limit for rule, limit in bounds.items()}


def key_schema(section: str, f: dataclasses.Field, hint: Any) -> dict:
    schema = _type_schema(hint)
    bounds = dict(f.metadata)
    items = bounds.pop("items", None)
    schema |= _bounds_schema(bounds)
    if items:
        schema["items"] = schema["items"] | _bounds_schema(items)
    choices = CHOICES.get(f"{section}.{f.name}")
    if choices is not None:
        schema["enum"] = list(choices)
    return schema


@functools.cache
def field_types(cls: type) -> dict[str, Any]:
    """The dataclass's annotations, evaluated (they are strings under PEP 563)."""
    return typing.get_type_hints(cls)


def section_schema(section: str, cls: type) -> dict:
    """A config section as a JSON-schema object: its keys and nothing else."""
    hints = field_types(cls)
    properties = {f.name: key_schema(section, f, hints[f.name]) for f in dataclasses.fields(cls)}
    return {"type": "object", "additionalProperties": False, "properties": properties}


@functools.cache
def _validator(section: str, cls: type, key: str, names: tuple):
    """The key's validator; ``names`` (the registry's, if any) keys the cache, so a variant
    registered later (a test's) is known."""
    import jsonschema  # imported here: only a validating caller pays for it

    # A value that will be hashed into a run's identity: 16.0 is no integer (JSON-schema
    # would accept it), or 16 and 16.0 would name two runs.
    checker = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, v: isinstance(v, int) and not isinstance(v, bool)
    )
    strict = jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=checker)
    return strict(section_schema(section, cls)["properties"][key])


def value_errors(section: str, cls: type, key: str, value: Any) -> list[str]:
    """Why ``value`` cannot be ``section.key`` (empty if it can), naming key and value."""
    names = tuple(CHOICES.get(f"{section}.{key}", ()))
    found = list(_validator(section, cls, key, names).iter_errors(value))
    name = f"{section}.{key}={value!r}"
    if any(e.validator == "type" for e in found):
        schema = section_schema(section, cls)["properties"][key]
        return [f"{name} has the wrong type (expected {_type_name(schema)})"]
    if any(e.validator == "enum" for e in found):
        return [f"{name} is not a known name; valid: {', '.join(CHOICES[f'{section}.{key}'])}"]
    if found:  # out of range: the key's own bounds, or its items'
        schema = found[0].schema
        return [f"{name} must {'all ' if found[0].path else ''}{bounds_words(schema)}"]
    if isinstance(value, float) and not math.isfinite(value):
        return [f"{name} must be a finite number"]  # YAML's .nan, .inf: no rule judges them
    return []


def _type_name(schema: dict) -> str:
    kind = schema.get("type", "?")
    kind = " or ".join(kind) if isinstance(kind, list) else kind
    return f"{kind} of {schema['items']['type']}" if kind == "array" else kind


BOUNDS = ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum")


def bounds_words(schema: dict) -> str:
    """A JSON schema's numeric bounds in words: 'be >= 1', 'be in [0, 1)'."""
    n = {
        b: f"{schema[b]:g}" if isinstance(schema[b], float) else str(schema[b])
        for b in BOUNDS
        if b in schema
    }
    low = [f"{'[' if b == 'minimum' else '('}{n[b]}" for b in BOUNDS[:2] if b in n]
    high = [f"{n[b]}{']' if b == 'maximum' else ')'}" for b in BOUNDS[2:] if b in n]
    if low and high:
        return f"be in {low[0]}, {high[0]}"
    signs = dict(zip(BOUNDS, [">=", ">", "<=", "<"], strict=True))
    return "be " + " and ".join(f"{signs[b]} {n[b]}" for b in BOUNDS if b in n)


def section_errors(section: str, cls: type, values: dict) -> list[str]:
    """Every bad value of a section given as a dict, unknown keys included."""
    valid = {f.name for f in dataclasses.fields(cls)}
    errors = []
    for key, value in values.items():
        if key not in valid:
            errors.append(
                f"unknown key {section}.{key}={value!r}; valid keys: {', '.join(sorted(valid))}"
            )
        else:
            errors += value_errors(section, cls, key, value)
    return errors


def config_errors(section: str, config) -> list[str]:
    """Every bad value of a section given as its dataclass (one that was never resolved:
    a spec read back from JSON, a config built in code)."""
    cls = type(config)
    return [
        e
        for f in dataclasses.fields(cls)
        for e in value_errors(section, cls, f.name, getattr(config, f.name))
    ]
