"""Config -> variants x seeds -> run specs, hashing and validation (no torch, no Snakemake)."""

from __future__ import annotations

import copy
import typing

import pytest
import yaml

from ablate.config import SECTIONS
from ablate.spec import SpecError, resolve_spec, spec_hash
from ablate.study import ConfigError, expand_study, load_config, variants
from ablate.study_checks import SCHEMA

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


def test_schema_lists_exactly_the_config_keys():
    """The JSON schema and the dataclasses must describe the same keys."""
    schema = yaml.safe_load(SCHEMA.read_text())
    for name, cls in SECTIONS.items():
        assert set(schema["$defs"][name]["properties"]) == set(typing.get_type_hints(cls))


@pytest.mark.parametrize("path", ["config.yaml", "config/tiny.yaml", "config/gpu.yaml"])
def test_shipped_configs_are_valid(path, repo_root):
    runs = expand_study(load_config(repo_root / path))
    assert runs


def test_seeds_from_the_snakemake_command_line_become_ints():
    from ablate.study import from_command_line

    assert from_command_line({"seeds": ["0", "1", "12"]})["seeds"] == [0, 1, 12]
    with pytest.raises(ConfigError, match="seeds"):
        expand_study(from_command_line(CONFIG | {"seeds": ["0", "x"]}))
