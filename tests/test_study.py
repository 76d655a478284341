"""Config -> variants x seeds -> run specs, hashing and validation (no torch, no Snakemake)."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from ablate.spec.config import SECTIONS, StatusRules
from ablate.spec.registry import POSITION
from ablate.spec.run_spec import SpecError, resolve_spec, spec_hash, status_rules
from ablate.study.execution import DEVICES
from ablate.study.expand import ConfigError, expand_study, load_config, variants
from ablate.study.schema import schema_errors, study_schema

CONFIG = {
    "study": "t",
    "seeds": [0, 1],
    "base": {"model": {"d_model": 32, "n_head": 4}, "train": {"steps": 100}},
    "ablations": {"model.n_head": [2, 4, 8], "train.lr": [0.01]},
    "grids": {"size": {"model.d_model": [16, 48], "model.n_layer": [1, 3]}},
}


def test_variants_one_factor_and_grid():
    names = [v.name for v in variants(CONFIG)]
    # n_head=4 equals the base and is skipped; the grid is full-factorial
    assert names == [
        "baseline",
        "n_head=2",
        "n_head=8",
        "lr=0.01",
        "size/d_model=16,n_layer=1",
        "size/d_model=16,n_layer=3",
        "size/d_model=48,n_layer=1",
        "size/d_model=48,n_layer=3",
    ]


def test_ablation_equal_to_a_default_is_the_baseline():
    cfg = copy.deepcopy(CONFIG) | {"ablations": {"model.pos": ["learned", "rope"]}}
    assert [v.name for v in variants(cfg)][:2] == ["baseline", "pos=rope"]


def test_expand_runs_variants_times_seeds_with_overrides_applied():
    runs = expand_study(CONFIG)
    assert len(runs) == 8 * 2
    by = {(r.variant, r.seed): r for r in runs}
    assert by[("n_head=8", 1)].spec.model.n_head == 8
    assert by[("n_head=8", 1)].spec.model.d_model == 32
    assert by[("size/d_model=48,n_layer=3", 0)].spec.model.n_layer == 3
    assert by[("lr=0.01", 0)].spec.train.lr == 0.01
    assert by[("baseline", 1)].spec.seed == 1 and by[("baseline", 1)].spec.data_seed == 1
    assert len({r.run_id for r in runs}) == 16


def test_hash_is_stable_and_sensitive():
    a = resolve_spec({"model": {"d_model": 32}}, 0)
    b = resolve_spec({"model": {"d_model": 32, "n_layer": 2}}, 0)  # n_layer 2 is the default
    assert spec_hash(a) == spec_hash(b)
    assert spec_hash(a) != spec_hash(resolve_spec({"model": {"d_model": 32}}, 1))
    assert spec_hash(a) != spec_hash(resolve_spec({"model": {"d_model": 48}}, 0))
    # an int written for a float key means the same run
    c = resolve_spec({"train": {"lr": 1}}, 0)
    assert spec_hash(c) == spec_hash(resolve_spec({"train": {"lr": 1.0}}, 0))
    assert len(spec_hash(a)) == 16


def test_adding_a_seed_adds_one_run_per_variant_and_keeps_the_others():
    old = {r.run_id for r in expand_study(CONFIG)}
    new_runs = expand_study(CONFIG | {"seeds": [0, 1, 2]})
    added = [r for r in new_runs if r.run_id not in old]
    assert len(added) == len(variants(CONFIG))
    assert {r.seed for r in added} == {2}


def test_changing_one_variant_changes_only_its_runs():
    cfg = copy.deepcopy(CONFIG)
    cfg["ablations"]["train.lr"] = [0.02]
    old = {(r.variant, r.seed): r.run_id for r in expand_study(CONFIG)}
    new = {(r.variant, r.seed): r.run_id for r in expand_study(cfg)}
    changed = {k for k in new if old.get(k) != new[k]}
    assert changed == {("lr=0.02", 0), ("lr=0.02", 1)}


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda c: c["base"]["model"].update(n_heads=4), "model.n_heads"),
        (lambda c: c["base"]["model"].update(d_model=30), "d_model"),
        (lambda c: c["base"]["model"].update(pos="rotary"), "model.pos='rotary'"),
        (lambda c: c["base"]["train"].update(lr=-1.0), "train.lr"),
        (lambda c: c.update(seed=[0]), "seed"),
        (lambda c: c["ablations"].update({"model.dmodel": [3]}), "model.dmodel"),
        (lambda c: c["ablations"].update({"model.n_head": [5]}), "n_head"),
    ],
)
def test_bad_config_names_the_key(mutate, needle):
    cfg = copy.deepcopy(CONFIG)
    mutate(cfg)
    with pytest.raises(ConfigError) as err:
        expand_study(cfg)
    assert needle in str(err.value)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ConfigError) as err:
        expand_study(CONFIG | {"base": {"model": {"pos": "rotary"}}})
    assert "rope" in str(err.value) and "alibi" in str(err.value)


def test_wrong_type_names_key():
    with pytest.raises(SpecError, match=r"model\.n_layer='2'"):
        resolve_spec({"model": {"n_layer": "2"}}, 0)


def test_schema_is_generated_from_the_dataclasses():
    """Each key's type and range, stated once in config.py, reach the study schema."""
    defs = study_schema()["$defs"]
    for name, cls in [*SECTIONS.items(), ("status", StatusRules)]:
        assert set(defs[name]["properties"]) == {f.name for f in dataclasses.fields(cls)}
    model, data = defs["model"]["properties"], defs["data"]["properties"]
    assert model["d_model"] == {"type": "integer", "minimum": 1}
    assert model["d_ff"] == {"type": ["integer", "null"], "minimum": 1}
    assert model["dropout"] == {"type": "number", "minimum": 0, "exclusiveMaximum": 1}
    assert model["pos"] == {"type": "string", "enum": list(POSITION)}
    assert data["eval_multipliers"] == {"type": "array", "items": {"type": "integer", "minimum": 2}}
    assert defs["status"]["properties"]["spike_window"] == {"type": "integer", "minimum": 5}
    assert study_schema()["properties"]["device"]["enum"] == list(DEVICES)


def _just_outside(bounds: dict):
    """A value that breaks one bound of a key, and the bound's words."""
    for rule, delta in [("ge", -1), ("gt", 0), ("le", 1), ("lt", 0)]:
        if rule in bounds:
            return bounds[rule] + delta
    raise AssertionError(bounds)


BOUNDED = [
    (section, cls, f)
    for section, cls in [*SECTIONS.items(), ("status", StatusRules)]
    for f in dataclasses.fields(cls)
    if f.metadata and "items" not in f.metadata
]


@pytest.mark.parametrize(
    ("section", "cls", "f"), BOUNDED, ids=[f"{s}.{f.name}" for s, _, f in BOUNDED]
)
def test_every_bound_is_enforced_by_the_schema_and_the_spec(section, cls, f):
    """One statement, two checks: a base value goes through the schema, an ablation value
    (not schema-checked) through the spec; both reject a value just outside the range."""
    bad = _just_outside(dict(f.metadata))
    if section == "status":
        config = copy.deepcopy(CONFIG) | {"status": {f.name: bad}}
        assert f"status.{f.name}={bad!r} must be" in "\n".join(schema_errors(config))
        with pytest.raises(SpecError, match=rf"status\.{f.name}={bad!r} must be"):
            status_rules({f.name: bad})
        return
    if section == "probes":  # study-wide: the top-level key, then the resolved spec
        config = copy.deepcopy(CONFIG) | {"probes": {f.name: bad}}
        assert f"probes.{f.name}={bad!r} must be" in "\n".join(schema_errors(config))
        with pytest.raises(ConfigError, match=rf"probes\.{f.name}={bad!r} must be"):
            expand_study(config, check_schema=False)
        return
    config = copy.deepcopy(CONFIG)
    config["base"].setdefault(section, {})[f.name] = bad
    assert f"base.{section}.{f.name}={bad!r} must be" in "\n".join(schema_errors(config))
    config = copy.deepcopy(CONFIG) | {"ablations": {f"{section}.{f.name}": [bad]}}
    with pytest.raises(ConfigError, match=rf"{section}\.{f.name}={bad!r} must be"):
        expand_study(config)


@pytest.mark.parametrize("path", ["config.yaml", "config/tiny.yaml", "config/gpu.yaml"])
def test_shipped_configs_are_valid(path, repo_root):
    runs = expand_study(load_config(repo_root / path))
    assert runs


def test_seeds_from_the_snakemake_command_line_become_ints():
    from ablate.study.expand import from_command_line

    assert from_command_line({"seeds": ["0", "1", "12"]})["seeds"] == [0, 1, 12]
    with pytest.raises(ConfigError, match="seeds"):
        expand_study(from_command_line(CONFIG | {"seeds": ["0", "x"]}))
