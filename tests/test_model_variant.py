"""A new positional encoding is one class and one registry line (issue #13).

The throwaway variant below has a trained parameter that is not an embedding table and a
constraint of its own. It is registered for the test only (``registry.registered``), and no
check is patched: the parameter count, the FLOPs, the config checks before any job, the
schema, and the whole generic model matrix of tests/test_model.py learn about it from its
registry entry alone.
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest
import test_model as generic
import torch
from torch import nn

from ablate.model.params import count_params, flops_per_token
from ablate.model.position import NoPosition
from ablate.spec.config import ModelConfig
from ablate.spec.constraints import check_model_config
from ablate.spec.model_traits import Position
from ablate.spec.registry import ATTENTION, FFN, NORM, NORM_PLACEMENT, POSITION, registered
from ablate.study.expand import ConfigError, expand_study


class LearnedSlopes(NoPosition):
    """ALiBi with trained slopes: the score of query i and key j gets -slope_h * (i - j)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.slopes = nn.Parameter(torch.zeros(cfg.n_head))  # drawn N(0, init_std) at init

    def bias(self, T: int) -> torch.Tensor:
        pos = torch.arange(T, device=self.slopes.device)
        return -self.slopes[:, None, None] * (pos[:, None] - pos[None, :]).float()


# The one registry line: a parameter per head (not an embedding), a score bias, and a rule.
TRAITS = Position(
    f"{__name__}:LearnedSlopes",
    params=lambda cfg: cfg.n_head,
    score_bias=True,
    check=lambda cfg: [] if cfg.n_head >= 2 else [f"model.pos={cfg.pos} needs model.n_head >= 2"],
)
NAME = "learned_slopes"


@pytest.fixture
def slopes():
    with registered(POSITION, NAME, TRAITS):
        yield


def tiny(**overrides) -> ModelConfig:
    return generic.tiny(pos=NAME, **overrides)


def combos() -> list[ModelConfig]:
    """Every combination with the other axes that the checks accept."""
    made = []
    for attention, norm, placement, ffn in itertools.product(ATTENTION, NORM, NORM_PLACEMENT, FFN):
        cfg = tiny(attention=attention, norm=norm, norm_placement=placement, ffn=ffn)
        if not check_model_config(cfg):
            made.append(cfg)
    for qk_norm, window in itertools.product([False, True], [None, 3]):
        made.append(tiny(qk_norm=qk_norm, window=window))
    return made


def test_the_generic_matrix_covers_the_new_variant(slopes):
    cfgs = combos()
    # the score bias needs a score matrix: linear attention is refused, by the generic rule
    assert {c.attention for c in cfgs} == set(ATTENTION) - {"linear"}
    errors = check_model_config(tiny(attention="linear"))
    assert errors == [
        "model.attention=linear with model.pos=learned_slopes: linear attention has no "
        "score matrix to add the learned_slopes bias to"
    ]
    for check, cfg in itertools.product(generic.CHECKS, cfgs):
        check(cfg)


def test_its_parameter_is_counted_trained_and_not_an_embedding(slopes):
    cfg = tiny()
    baseline = count_params(generic.tiny(pos="none"))
    counted = count_params(cfg)
    assert counted["total"] == baseline["total"] + cfg.n_head
    assert counted["non_embedding"] == baseline["non_embedding"] + cfg.n_head
    assert flops_per_token(cfg, 8) == flops_per_token(generic.tiny(pos="none"), 8) + 6 * 4
    model = generic.build(cfg)
    assert model.n_params(non_embedding=True) == counted["non_embedding"]
    assert model.module_groups()[(-1, "position")] == [model.pos.slopes]
    # drawn N(0, init_std) like every position parameter, not left at its zeros
    assert model.pos.slopes.abs().min() > 0


def test_its_constraint_stops_a_study_before_any_job(slopes):
    assert check_model_config(tiny(n_head=1)) == [
        "model.pos=learned_slopes needs model.n_head >= 2"
    ]
    study = {
        "study": "slopes",
        "seeds": [0],
        "base": {
            "model": {"d_model": 16, "n_layer": 1, "n_head": 2, "context": 32, "pos": NAME},
            "data": {"task": "induction", "seq_len": 32, "vocab": 16},
        },
        "ablations": {"model.n_head": [4]},
    }
    runs = expand_study(study)
    assert {r.variant for r in runs} == {"baseline", "n_head=4"}
    assert all(r.spec.model.pos == NAME for r in runs)
    with pytest.raises(ConfigError) as error:
        expand_study(study | {"ablations": {"model.n_head": [1]}})
    assert "variant 'n_head=1': model.pos=learned_slopes needs model.n_head >= 2" in str(
        error.value
    )


def test_unregistered_it_is_an_unknown_name():
    cfg = tiny()
    assert check_model_config(cfg) == [
        f"model.pos='{NAME}' is not a known name; valid: {', '.join(POSITION)}"
    ]
    with registered(POSITION, NAME, TRAITS):
        assert check_model_config(cfg) == []
    assert NAME not in POSITION
    assert dataclasses.asdict(cfg)["pos"] == NAME
