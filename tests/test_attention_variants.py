"""Sigmoid attention, softmax with a zero logit, and differential attention against their
definitions, computed by hand from the module's own projections."""

from __future__ import annotations

import math

import torch

from ablate.model.attention import AttentionMask, MultiHeadAttention
from ablate.model.attention_variants import DifferentialAttention, SigmoidAttention
from ablate.model.params import count_params
from ablate.model.position import NoPosition
from ablate.spec.config import ModelConfig

B, T, C, H = 2, 5, 16, 4
CFG = ModelConfig(d_model=C, n_layer=1, n_head=H, context=T, vocab_size=7)


def setup(cls, **kw):
    torch.manual_seed(0)
    cfg = ModelConfig(**{**CFG.__dict__, **kw})
    module = cls(cfg).eval()
    for p in module.parameters():
        torch.nn.init.normal_(p, 0.0, 0.5)
    x = torch.randn(B, T, C)
    pos = NoPosition(cfg)
    mask = AttentionMask.build(T, None, None)
    q, k, v = module.heads(x, pos)
    scores = q @ k.transpose(-2, -1) / math.sqrt(C // H)
    return module, x, pos, mask, scores, v


def test_sigmoid_attention_is_sigmoid_of_the_score_minus_log_t():
    module, x, pos, mask, scores, v = setup(SigmoidAttention)
    w = torch.sigmoid(scores - math.log(T)) * mask.visible  # no normalisation over keys
    expected = module.merge(w @ v)
    assert torch.allclose(module(x, pos, mask), expected, atol=1e-6)
    cap = {"attn_probs": [], "attn_logit_max": []}
    module(x, pos, mask, cap)
    torch.testing.assert_close(cap["attn_probs"][0], w / w.sum(-1, keepdim=True))


def test_softmax_one_is_a_zero_key_and_value_every_query_sees():
    module, x, pos, mask, scores, v = setup(MultiHeadAttention, softmax_one=True)
    zero = torch.zeros(B, H, T, 1)
    padded = torch.cat([zero, scores.masked_fill(~mask.visible, float("-inf"))], dim=-1)
    weights = padded.softmax(-1)  # key 0: the zero slot, its value 0
    values = torch.cat([torch.zeros(B, H, 1, C // H), v], dim=2)
    expected = module.merge(weights @ values)
    assert torch.allclose(module(x, pos, mask), expected, atol=1e-6)
    plain, *_ = setup(MultiHeadAttention)
    assert not torch.allclose(plain(x, pos, mask), expected, atol=1e-4)


def test_differential_attention_subtracts_two_softmax_maps_per_head_pair():
    module, x, pos, mask, scores, v = setup(DifferentialAttention)
    probs = scores.masked_fill(~mask.visible, float("-inf")).softmax(-1)
    lq1, lk1, lq2, lk2 = module.lambdas.detach()
    lam = math.exp(float(lq1 @ lk1)) - math.exp(float(lq2 @ lk2)) + 0.8
    d = C // H
    outs = []
    for g in range(H // 2):
        a = probs[:, 2 * g] - lam * probs[:, 2 * g + 1]  # (B, T, T)
        vv = torch.cat([v[:, 2 * g], v[:, 2 * g + 1]], dim=-1)  # (B, T, 2d)
        y = a @ vv
        y = y * torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + 1e-5) * module.pair_norm.weight
        outs.append(y * (1 - 0.8))
    expected = module.proj(torch.cat(outs, dim=-1))
    assert torch.allclose(module(x, pos, mask), expected, atol=1e-5)
    # matched parameters: multi-head attention's projections plus 6 head_dim
    mha = count_params(CFG)["non_embedding"]
    diff = count_params(ModelConfig(**{**CFG.__dict__, "attention": "differential"}))
    assert diff["non_embedding"] == mha + 6 * d
