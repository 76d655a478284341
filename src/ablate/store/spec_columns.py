"""The run spec (spec.RunSpec) as flat columns ``<section>.<key>`` of runs.parquet.

One column per field of the config dataclasses, plus data_seed (the seed is the study
column ``seed``). The Parquet type follows the field's annotation; None is stored as a null:
  int -> int64; int | None -> int64 with nulls (pandas reads Int64, <NA> for None)
  float -> double; bool -> bool; str -> string; str | None -> string with nulls
  (pandas reads NaN for None); list[int] -> list<int64> (pandas reads numpy arrays)
analysis.load.variant_specs turns a row back into plain Python values (None, lists).
Pure Python.
"""

from __future__ import annotations

import dataclasses
import types
import typing

from ablate.spec.config import SECTIONS

PARQUET_TYPES = {int: "int64", float: "double", bool: "bool", str: "string"}


def _parquet_type(hint) -> tuple[str, bool]:
    """(Parquet type, nullable) of a config field's annotation."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        return _parquet_type(inner)[0], True
    if typing.get_origin(hint) is list:
        return f"list<{PARQUET_TYPES[args[0]]}>", False
    return PARQUET_TYPES[hint], False


def spec_column_types() -> dict[str, tuple[str, bool]]:
    """'model.d_model' -> ('int64', False), 'model.window' -> ('int64', True), ..."""
    out = {}
    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            out[f"{section}.{f.name}"] = _parquet_type(hints[f.name])
    out["data_seed"] = ("int64", False)
    return out


def spec_descriptions() -> dict[str, str]:
    out = {}
    for name, (kind, nullable) in spec_column_types().items():
        section, _, key = name.partition(".")
        what = (
            f"{SECTIONS[section].__name__}.{key} of the run, resolved"
            if key
            else "the data seed of the run (batch order)"
        )
        out[name] = f"{kind}{' or null (None)' if nullable else ''}: {what}"
    return out
