"""Generic model tests, driven by the registries: every combination of attention x position
x norm x placement x FFN that check_model_config accepts is built as a tiny model and must
keep shapes, causality, determinism, finite gradients, probe-path == SDPA-path logits and
count_params == the parameters it really has. A new registry entry is covered automatically.

Each generic check is a plain ``check_*`` function of a config, so a test can run the whole
matrix on a variant it registers itself (tests/test_model_variant.py).
"""

from __future__ import annotations

import itertools
import math
import sys

import pytest
import torch

from ablate.model.params import count_params
from ablate.model.transformer import build_model
from ablate.spec.config import ModelConfig
from ablate.spec.constraints import check_model_config
from ablate.spec.registry import ATTENTION, FFN, NORM, NORM_PLACEMENT, PARAMETRIZATION, POSITION

V, B, T = 11, 2, 8
TINY = dict(d_model=16, n_layer=2, n_head=4, n_kv_head=2, context=T, vocab_size=V)


def tiny(**overrides) -> ModelConfig:
    return ModelConfig(**{**TINY, **overrides})


REJECTED: list[tuple[ModelConfig, list[str]]] = []


def _combos():
    for attention, pos, norm, placement, ffn in itertools.product(
        ATTENTION, POSITION, NORM, NORM_PLACEMENT, FFN
    ):
        cfg = tiny(attention=attention, pos=pos, norm=norm, norm_placement=placement, ffn=ffn)
        errors = check_model_config(cfg)
        if errors:
            REJECTED.append((cfg, errors))
        else:
            yield pytest.param(cfg, id=f"{attention}-{pos}-{norm}-{placement}-{ffn}")


# Flags that change attention itself, crossed with attention x position (defaults elsewhere).
def _flag_combos():
    for attention, pos, qk_norm, window, one in itertools.product(
        ATTENTION, POSITION, [False, True], [None, 3], [False, True]
    ):
        cfg = tiny(attention=attention, pos=pos, qk_norm=qk_norm, window=window, softmax_one=one)
        if not check_model_config(cfg):
            name = f"{attention}-{pos}-qk{int(qk_norm)}-w{window}" + ("-one" if one else "")
            yield pytest.param(cfg, id=name)


# muP at twice its base width (width_mult 2: every muP factor active), with every
# attention mechanism and position
def _mup_combos():
    for attention, pos in itertools.product(ATTENTION, POSITION):
        cfg = tiny(attention=attention, pos=pos, parametrization="mup", mup_base_width=8)
        if not check_model_config(cfg):
            yield pytest.param(cfg, id=f"{attention}-{pos}-mup")


COMBOS = list(_combos())
FLAG_COMBOS = list(_flag_combos())
MUP_COMBOS = list(_mup_combos())
ALL = COMBOS + FLAG_COMBOS + MUP_COMBOS


def build(cfg: ModelConfig, seed: int = 0):
    return build_model(cfg, generator=torch.Generator().manual_seed(seed))


def tokens(seed: int = 1, length: int = T) -> torch.Tensor:
    return torch.randint(0, V, (B, length), generator=torch.Generator().manual_seed(seed))


def test_every_registered_name_is_exercised():
    for key, registry in [
        ("attention", ATTENTION),
        ("pos", POSITION),
        ("norm", NORM),
        ("norm_placement", NORM_PLACEMENT),
        ("ffn", FFN),
    ]:
        assert {getattr(p.values[0], key) for p in COMBOS} == set(registry), key
    exercised = {p.values[0].parametrization for p in ALL}
    assert exercised == set(PARAMETRIZATION)
    # the only combinations the registries cannot build: a score bias without a score matrix
    # (linear attention with ALiBi)
    for cfg, errors in REJECTED:
        assert POSITION[cfg.pos].score_bias and not ATTENTION[cfg.attention].score_matrix
        fragment = f"model.attention={cfg.attention} with model.pos={cfg.pos}"
        assert errors and all(fragment in e for e in errors), errors
    biased = sum(p.score_bias for p in POSITION.values())
    no_scores = sum(not a.score_matrix for a in ATTENTION.values())
    assert len(REJECTED) == biased * no_scores * len(NORM) * len(NORM_PLACEMENT) * len(FFN)


def check_shape_and_causality(cfg):
    model = build(cfg).eval()
    idx = tokens()
    with torch.no_grad():
        logits = model(idx)
        assert logits.shape == (B, T, V)
        for t in [0, 3, T - 1]:
            changed = idx.clone()
            changed[:, t] = (changed[:, t] + 1) % V
            other = model(changed)
            # positions before t must not see the change, bit for bit; position t must
            assert torch.equal(other[:, :t], logits[:, :t])
            assert not torch.allclose(other[:, t], logits[:, t])


def check_determinism(cfg):
    a, b = build(cfg, seed=3), build(cfg, seed=3)
    for (name, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q), name
    assert torch.equal(a(tokens()), b(tokens()))
    c = build(cfg, seed=4)
    assert not torch.equal(a.wte.weight, c.wte.weight)


def check_gradients(cfg):
    model = build(cfg)
    logits = model(tokens())
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), tokens(2).reshape(-1))
    assert abs(loss.item() - math.log(V)) < 0.1  # small init: near-uniform predictions
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name


def check_capture_path(cfg):
    model = build(cfg).eval()
    idx = tokens()
    cap: dict = {}
    with torch.no_grad():
        fast, probed = model(idx), model(idx, capture=cap)
    torch.testing.assert_close(probed, fast, rtol=1e-5, atol=1e-5)
    visible = cap["visible"]
    assert visible.shape == (T, T) and visible.dtype == torch.bool
    assert len(cap["attn_probs"]) == len(cap["attn_logit_max"]) == len(cap["resid"]) == 2
    for probs, logit_max, resid in zip(
        cap["attn_probs"], cap["attn_logit_max"], cap["resid"], strict=True
    ):
        assert probs.shape == (B, cfg.n_head, T, T)
        assert resid.shape == (B, T, cfg.d_model)
        assert logit_max.shape == (cfg.n_head,)
        assert (probs[..., ~visible] == 0).all()
        if cfg.softmax_one:  # the zero logit takes some of every row's mass
            assert (probs.sum(-1) < 1).all()
        else:
            torch.testing.assert_close(probs.sum(-1), torch.ones(B, cfg.n_head, T))
        if not ATTENTION[cfg.attention].score_matrix:  # no logits to report
            assert torch.isnan(logit_max).all()
        else:
            assert torch.isfinite(logit_max).all()
    # the last residual stream is what the head reads (through the final norm, if any;
    # muP divides the logits by the width multiplier, 1 under SP)
    last = cap["resid"][-1]
    if model.norm_f is not None:
        last = model.norm_f(last)
    readout = last @ model.wte.weight.T / model.width_mult
    torch.testing.assert_close(readout, fast, rtol=1e-5, atol=1e-5)


def check_count_params(cfg):
    for variant in [cfg, tiny(**{**cfg.__dict__, "tie_head": False, "bias": True})]:
        model = build(variant)
        counted = count_params(variant)
        assert counted["total"] == sum(p.numel() for p in model.parameters()) == model.n_params()
        assert counted["non_embedding"] == model.n_params(non_embedding=True)


def check_module_groups(cfg):
    for variant in [cfg, tiny(**{**cfg.__dict__, "tie_head": False})]:
        model = build(variant)
        groups = model.module_groups()
        grouped = [id(p) for params in groups.values() for p in params]
        assert len(grouped) == len(set(grouped))
        assert set(grouped) == {id(p) for p in model.parameters()}
        kinds = {"embedding", "position", "attention", "ffn", "norm", "head"}
        for layer, kind in groups:
            assert kind in kinds and -1 <= layer < variant.n_layer
        assert (-1, "head") in groups or variant.tie_head
        assert any(p is model.wte.weight for p in groups[(-1, "embedding")])
        for layer in range(variant.n_layer):
            kinds = {"attention", "norm"} | ({"ffn"} if FFN[variant.ffn].present else set())
            assert {(layer, kind) for kind in kinds} <= set(groups)


def check_supports_length(cfg):
    model = build(cfg).eval()
    long = tokens(length=2 * T)
    max_len = POSITION[cfg.pos].max_len(cfg)
    if max_len is not None:
        assert model.supports_length(max_len) and not model.supports_length(max_len + 1)
        with pytest.raises(ValueError, match=f"model.context={cfg.context}"):
            model(tokens(length=max_len + 1))
    else:
        assert model.supports_length(10 * T)
        assert model(long).shape == (B, 2 * T, V)


# The generic matrix: every check on every combination the registries can build.
CHECKS = {
    check_shape_and_causality: ALL,
    check_determinism: COMBOS,
    check_gradients: ALL,
    check_capture_path: ALL,
    check_count_params: ALL,
    check_module_groups: COMBOS[:: len(FFN)],
    check_supports_length: [pytest.param(tiny(pos=pos), id=pos) for pos in POSITION],
}
MATRIX = [
    pytest.param(check, *p.values, id=f"{check.__name__[6:]}-{p.id}")
    for check, params in CHECKS.items()
    for p in params
]


@pytest.mark.parametrize(("check", "cfg"), MATRIX)
def test_generic_matrix(check, cfg):
    check(cfg)


def test_build_model_rejects_bad_configs_naming_the_key():
    with pytest.raises(ValueError, match="model.vocab_size=0"):
        build_model(tiny(vocab_size=0))
    with pytest.raises(ValueError, match="model.n_kv_head=3"):
        build_model(tiny(attention="gqa", n_kv_head=3))


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        (dict(d_model=18), "model.d_model=18 is not divisible by model.n_head=4"),
        (dict(attention="gqa", n_kv_head=None), "model.attention=gqa needs model.n_kv_head"),
        (dict(attention="gqa", n_kv_head=3), "model.n_kv_head=3 must divide model.n_head=4"),
        (dict(attention="linear", pos="alibi"), "model.attention=linear with model.pos=alibi"),
        (dict(attention="linear", window=4), "model.attention=linear with model.window=4"),
        (dict(window=0), "model.window=0 must be >= 1"),
        (dict(pos="rope", d_model=12), "model.pos=rope needs an even head size"),
        (dict(attention="flash"), "model.attention='flash' is not a known name"),
        (dict(dropout=1.0), "model.dropout=1.0"),
        (dict(n_layer=0), "model.n_layer=0"),
    ],
)
def test_check_model_config_names_key_and_value(overrides, fragment):
    errors = check_model_config(tiny(**overrides))
    assert any(fragment in e for e in errors), errors


def test_check_model_config_accepts_defaults_and_needs_no_torch():
    assert check_model_config(ModelConfig()) == []  # vocab_size 0 is "from the data"
    import subprocess

    code = (
        "import sys; import ablate.spec.constraints, ablate.model.params;"
        "from ablate.spec.constraints import check_model_config;"
        "from ablate.model.params import count_params;"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
