"""Numeric tests of norms, FFNs, blocks, initialisation, the head, dropout, bf16 and the FLOPs
formula against hand-computed or reference values."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from tiny_model import B, T, V, build, gen, tiny, tokens

from ablate.model.attention import AttentionMask
from ablate.model.block import PostNormBlock, PreNormBlock
from ablate.model.norm import LayerNorm, RMSNorm
from ablate.model.params import count_params, flops_per_token

# ---------------------------------------------------------------- norms, FFN, blocks


def test_rmsnorm_matches_torch():
    x = torch.randn(3, 5, 16, generator=gen()) * 3
    ours, ref = RMSNorm(16, eps=1e-6), torch.nn.RMSNorm(16, eps=1e-6)
    with torch.no_grad():
        ours.weight.copy_(torch.randn(16, generator=gen(1)))
        ref.weight.copy_(ours.weight)
    torch.testing.assert_close(ours(x), ref(x))


def test_layernorm_matches_torch():
    x = torch.randn(3, 5, 16, generator=gen()) * 3 + 1
    ours, ref = LayerNorm(16, bias=True), torch.nn.LayerNorm(16)
    with torch.no_grad():
        ours.weight.copy_(torch.randn(16, generator=gen(1)))
        ours.bias.copy_(torch.randn(16, generator=gen(2)))
        ref.load_state_dict(ours.state_dict())
    torch.testing.assert_close(ours(x), ref(x))


@pytest.mark.parametrize("placement", ["pre", "post"])
def test_block_structure(placement):
    model = build(tiny(norm_placement=placement, n_layer=1))
    block = model.blocks[0]
    assert isinstance(block, PreNormBlock if placement == "pre" else PostNormBlock)
    x = torch.randn(B, T, 16, generator=gen())
    mask = AttentionMask.build(T, None, None)
    with torch.no_grad():
        out = block(x, model.pos, mask)
        attn = lambda h: block.attn(h, model.pos, mask)  # noqa: E731
        if placement == "pre":
            h = x + attn(block.norm1(x))
            expected = h + block.ffn(block.norm2(h))
        else:
            h = block.norm1(x + attn(x))
            expected = block.norm2(h + block.ffn(h))
            # a post-norm block's output is normalised (unit gain, zero mean, unit variance)
            torch.testing.assert_close(out.mean(-1), torch.zeros(B, T), atol=1e-5, rtol=0)
            torch.testing.assert_close(out.var(-1, unbiased=False), torch.ones(B, T))
    torch.testing.assert_close(out, expected)
    assert (model.norm_f is None) == (placement == "post")


def test_swiglu_match_params_equals_mlp_count():
    for d_model in [16, 64, 96]:
        mlp = count_params(tiny(d_model=d_model, ffn="gelu"))["non_embedding"]
        swiglu = count_params(tiny(d_model=d_model, ffn="swiglu", ffn_match_params=True))
        unmatched = count_params(tiny(d_model=d_model, ffn="swiglu"))["non_embedding"]
        # 3 * round(2h/3) differs from 2h by at most 1 hidden unit: d_model weights x 3 x layers
        assert abs(swiglu["non_embedding"] - mlp) <= 3 * d_model * 2
        assert unmatched - mlp == 2 * d_model * 4 * d_model  # one more d x h matrix per layer
    model = build(tiny(ffn="swiglu", ffn_match_params=True))
    assert model.blocks[0].ffn.up.out_features == round(2 * 64 / 3) == 43


def test_gelu_and_relu_mlps_compute_their_formula():
    x = torch.randn(3, 16, generator=gen())
    for ffn, act in [("gelu", F.gelu), ("relu", F.relu)]:
        mlp = build(tiny(ffn=ffn, bias=True)).blocks[0].ffn
        torch.testing.assert_close(
            mlp(x), act(x @ mlp.up.weight.T + mlp.up.bias) @ mlp.down.weight.T + mlp.down.bias
        )
    glu = build(tiny(ffn="swiglu")).blocks[0].ffn
    expected = (F.silu(x @ glu.gate.weight.T) * (x @ glu.up.weight.T)) @ glu.down.weight.T
    torch.testing.assert_close(glu(x), expected)


# ---------------------------------------------------------------- init, head, dropout, bf16


@pytest.mark.parametrize("scale", [True, False])
def test_init_std_and_scaled_residual_projections(scale):
    cfg = tiny(d_model=128, n_layer=4, n_head=4, vocab_size=V, scale_residual_init=scale, bias=True)
    model = build(cfg)
    std = 0.02 / math.sqrt(8) if scale else 0.02
    block = model.blocks[1]
    assert block.attn.qkv.weight.std().item() == pytest.approx(0.02, rel=0.03)
    assert block.attn.proj.weight.std().item() == pytest.approx(std, rel=0.03)
    assert block.ffn.down.weight.std().item() == pytest.approx(std, rel=0.03)
    assert block.ffn.up.weight.std().item() == pytest.approx(0.02, rel=0.03)
    assert (block.ffn.up.bias == 0).all() and (block.norm1.weight == 1).all()
    assert model.pos.weight.std().item() == pytest.approx(0.02, rel=0.05)


def test_tied_and_untied_head():
    tied, untied = build(tiny()), build(tiny(tie_head=False))
    assert tied.head is None and untied.head.weight is not untied.wte.weight
    assert untied.n_params() - tied.n_params() == V * 16
    assert untied.n_params(non_embedding=True) == tied.n_params(non_embedding=True)


def test_dropout_only_in_training_mode():
    model = build(tiny(dropout=0.5))
    idx = tokens()
    assert torch.equal(model(idx), model(idx))  # eval
    model.train()
    assert not torch.equal(model(idx), model(idx))


@pytest.mark.parametrize("attention", ["mha", "gqa", "linear"])
def test_bf16_autocast_close_to_fp32(attention):
    model = build(tiny(attention=attention, n_kv_head=2, pos="rope"))
    idx = tokens()
    with torch.no_grad():
        full = model(idx)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            half, probed = model(idx), model(idx, capture={})
    torch.testing.assert_close(half.float(), full, rtol=0, atol=0.05)
    torch.testing.assert_close(probed.float(), full, rtol=0, atol=0.05)


def test_flops_per_token_formula():
    # tiny(): C = 16, 2 layers, 4 heads of 4, FFN 64, no biases, tied head. Per block:
    # qkv 16 x 48 + proj 16 x 16 = 1024, FFN 2 x 16 x 64 = 2048, two gains 32 -> 3104;
    # N = 2 x 3104 + final gain 16 = 6224, 6N = 37344. Attention: 6 x 2 layers x n_ctx x 16.
    assert count_params(tiny())["non_embedding"] == 6224
    assert flops_per_token(tiny(), 64) == 37344 + 6 * 2 * 64 * 16 == 49632
    # a window caps the keys a query sees at 8
    assert flops_per_token(tiny(window=8), 64) == 37344 + 6 * 2 * 8 * 16 == 38880
    assert flops_per_token(tiny(window=128), 64) == 49632  # a window beyond T changes nothing
    # linear attention: the same projections; its running sums cost head_dim (4) per channel
    assert flops_per_token(tiny(attention="linear"), 64) == 37344 + 6 * 2 * 4 * 16 == 38112
    assert flops_per_token(tiny(attention="linear"), 1024) == 38112  # O(1) per token in T
    # GQA with 2 kv heads: qkv 16 x (16 + 2 x 8) = 512 -> block 2848, N = 5712
    assert flops_per_token(tiny(attention="gqa", n_kv_head=2), 64) == 6 * 5712 + 12288 == 46560
    # SwiGLU: three 16 x 64 matrices -> block 4128, N = 8272
    assert flops_per_token(tiny(ffn="swiglu"), 64) == 6 * 8272 + 12288 == 61920
