"""muP (model.parametrization: mup): what Yang et al. 2022 (Tensor Programs V, the Adam
column of Table 3) prescribe, checked factor by factor, and SP recovered at the base width;
and the warmup-stable-decay schedule."""

from __future__ import annotations

import math

import pytest
import torch

from ablate.model.params import count_params, flops_per_token
from ablate.model.transformer import build_model
from ablate.spec.config import ModelConfig, TrainConfig
from ablate.spec.constraints import check_model_config
from ablate.train.lr_schedule import lr_at
from ablate.train.step import make_optimizer

V, B, T = 13, 2, 8


def cfg(d_model=32, **kw) -> ModelConfig:
    base = dict(d_model=d_model, n_layer=2, n_head=4, context=T, vocab_size=V)
    return ModelConfig(**(base | kw))


def mup(d_model, base=16, **kw) -> ModelConfig:
    return cfg(d_model, parametrization="mup", mup_base_width=base, **kw)


def build(c: ModelConfig, seed=0):
    return build_model(c, generator=torch.Generator().manual_seed(seed))


def tokens(seed=1):
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(seed))


def train(model, steps=3, lr=1e-2):
    t = TrainConfig(lr=lr, steps=steps, warmup_steps=0)
    opt = make_optimizer(model, t)
    x = tokens()
    for _ in range(steps):
        for g in opt.param_groups:
            g["lr"] = t.lr * g["lr_mult"]
        loss = torch.nn.functional.cross_entropy(model(x).flatten(0, 1), x.roll(-1, 1).flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


@pytest.mark.parametrize("extra", [{}, {"tie_head": False}, {"pos": "rope", "ffn": "swiglu"}])
def test_mup_at_its_base_width_is_sp_bit_for_bit(extra):
    sp, mu = build(cfg(32, **extra)), build(mup(32, base=32, **extra))
    for a, b in zip(sp.state_dict().values(), mu.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    train(sp), train(mu)
    for a, b in zip(sp.state_dict().values(), mu.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert torch.equal(sp(tokens(2)), mu(tokens(2)))


def test_mup_learning_rates_per_parameter_group():
    model = build(mup(64, base=16))  # width_mult 4
    opt = make_optimizer(model, TrainConfig(lr=1e-2))
    mult = {id(p): g["lr_mult"] for g in opt.param_groups for p in g["params"]}
    hidden = {id(p) for p in model.hidden_matrices()}
    # every Linear of every block: qkv, proj, up, down (2 layers x 4)
    assert len(hidden) == 8
    for name, p in model.named_parameters():
        expected = 0.25 if id(p) in hidden else 1.0
        assert mult[id(p)] == expected, name
        if name.startswith("blocks.") and p.dim() == 2:
            assert id(p) in hidden, name
    assert mult[id(model.wte.weight)] == 1.0  # embedding (and tied readout): base lr
    assert mult[id(model.pos.weight)] == 1.0  # a position table is an embedding
    # weight decay still only on matrices
    decay = {id(p) for g in opt.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    assert decay == {id(p) for p in model.parameters() if p.dim() >= 2}
    # SP: one rate for all
    sp = make_optimizer(build(cfg(64)), TrainConfig(lr=1e-2))
    assert {g["lr_mult"] for g in sp.param_groups} == {1.0}


def test_mup_init_variance_is_one_over_fan_in_for_hidden_matrices():
    big, small = build(mup(256, base=32)), build(mup(32, base=32))
    std = lambda m: float(m.blocks[0].attn.qkv.weight.detach().std())  # noqa: E731
    # width x8: std / sqrt(8); the sample std of 196k (resp. 3k) normals is within 5 %
    assert std(big) == pytest.approx(0.02 / math.sqrt(8), rel=0.05)
    assert std(small) == pytest.approx(0.02, rel=0.05)
    # residual projections keep GPT-2's depth scaling on top
    down = float(big.blocks[0].ffn.down.weight.detach().std())
    assert down == pytest.approx(0.02 / math.sqrt(2 * 2) / math.sqrt(8), rel=0.05)
    # the embedding is not a hidden matrix: its std does not move
    assert float(big.wte.weight.detach().std()) == pytest.approx(0.02, rel=0.05)


def test_mup_logit_and_attention_multipliers():
    m = 4.0
    sp, mu = build(cfg(64)), build(mup(64, base=16))
    mu.load_state_dict(sp.state_dict())  # same weights: only the multipliers differ
    x = tokens()
    cap_sp, cap_mu = {}, {}
    sp(x, capture=cap_sp)
    out = mu(x, capture=cap_mu)
    # first layer: same input, scores divided by sqrt(d_head) * sqrt(m) (1/d_head scaling)
    assert torch.allclose(cap_mu["attn_logit_max"][0] * math.sqrt(m), cap_sp["attn_logit_max"][0])
    # readout: the tied head's logits divided by m
    h = mu.norm_f(cap_mu["resid"][-1])
    assert torch.allclose(out * m, h @ mu.wte.weight.T, atol=1e-6)
    # the fused path (no capture) computes the same as the written-out one
    assert torch.allclose(mu(x), out, atol=1e-6)


def test_mup_keeps_parameter_counts_and_flops():
    for d in (32, 64, 128):
        assert count_params(mup(d)) == count_params(cfg(d))
        assert flops_per_token(mup(d), T) == flops_per_token(cfg(d), T)
        assert build(mup(d)).n_params() == count_params(cfg(d))["total"]


def test_parametrization_keys_are_checked_together():
    errors = check_model_config(cfg(32, parametrization="mup"))
    assert any("model.mup_base_width" in e and "parametrization=mup" in e for e in errors)
    errors = check_model_config(cfg(32, mup_base_width=16))
    assert any("model.mup_base_width=16" in e and "mup" in e for e in errors)
    errors = check_model_config(cfg(32, parametrization="mu-p"))
    assert any("model.parametrization" in e and "mu-p" in e for e in errors)
    assert check_model_config(mup(48, base=16)) == []


def test_wsd_schedule_warms_up_holds_then_decays_linearly():
    t = TrainConfig(
        steps=100, lr=1e-3, warmup_steps=10, min_lr_ratio=0.1, schedule="wsd", decay_fraction=0.2
    )
    assert lr_at(5, t) == pytest.approx(5e-4)
    assert all(lr_at(s, t) == 1e-3 for s in range(11, 81))  # stable phase: steps 11..80
    assert lr_at(90, t) == pytest.approx(1e-3 * (1 - 0.5 * 0.9))  # halfway down the decay
    assert lr_at(100, t) == pytest.approx(1e-4)
    assert all(lr_at(s, t) > lr_at(s + 1, t) for s in range(80, 100))
    # the decay never reaches into the warmup
    short = TrainConfig(steps=10, warmup_steps=8, schedule="wsd", decay_fraction=0.9, lr=1.0)
    assert [round(lr_at(s, short), 6) for s in (8, 9, 10)] == [1.0, 0.55, 0.1]


def test_the_new_keys_at_their_old_values_keep_every_run_id():
    from ablate.spec.run_spec import LATER_KEYS, resolve_spec, spec_hash

    spec = resolve_spec({"model": {"d_model": 32}}, 0)
    older = spec.to_dict()  # the spec as code before these keys wrote it
    for section, later in LATER_KEYS.items():
        for name in later:
            del older[section][name]
    assert spec_hash(spec) == spec_hash(older)
    for changed in (
        {"model": {"d_model": 32, "parametrization": "mup", "mup_base_width": 16}},
        {"model": {"d_model": 32}, "train": {"schedule": "wsd"}},
        {"model": {"d_model": 32}, "train": {"decay_fraction": 0.5}},
    ):
        assert spec_hash(resolve_spec(changed, 0)) != spec_hash(spec)
