"""Numeric tests of each model component against hand-computed or reference values."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ablate.config import ModelConfig
from ablate.model import build_model
from ablate.model.attention import AttentionMask
from ablate.model.block import PostNormBlock, PreNormBlock
from ablate.model.linear_attention import (
    linear_attention_chunked,
    linear_attention_recurrent,
    linear_attention_weights,
)
from ablate.model.norm import LayerNorm, RMSNorm
from ablate.model.params import count_params, flops_per_token
from ablate.model.position import RotaryPosition, alibi_slopes, sinusoidal_table

V, B, T = 11, 2, 8


def tiny(**overrides) -> ModelConfig:
    base = dict(d_model=16, n_layer=2, n_head=4, context=T, vocab_size=V)
    return ModelConfig(**{**base, **overrides})


def build(cfg: ModelConfig, seed: int = 0):
    return build_model(cfg, generator=torch.Generator().manual_seed(seed)).eval()


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def tokens(seed: int = 1, length: int = T) -> torch.Tensor:
    return torch.randint(0, V, (B, length), generator=gen(seed))


# ---------------------------------------------------------------- attention variants


def test_gqa_with_all_kv_heads_is_mha():
    mha = build(tiny(attention="mha"))
    gqa = build(tiny(attention="gqa", n_kv_head=4), seed=5)
    gqa.load_state_dict(mha.state_dict())
    assert torch.equal(gqa(tokens()), mha(tokens()))


def test_mqa_is_gqa_with_one_kv_head():
    mqa = build(tiny(attention="mqa"))
    gqa = build(tiny(attention="gqa", n_kv_head=1), seed=5)
    gqa.load_state_dict(mqa.state_dict())
    assert torch.equal(gqa(tokens()), mqa(tokens()))


def test_gqa_equals_mha_with_shared_key_value_weights():
    """GQA with 2 kv heads for 4 query heads = MHA whose heads 0,1 and 2,3 share k and v."""
    cfg = tiny(attention="gqa", n_kv_head=2)
    gqa, mha = build(cfg), build(tiny(attention="mha"))
    state = gqa.state_dict()
    d, C = cfg.head_dim, cfg.d_model
    for i in range(cfg.n_layer):
        w = state[f"blocks.{i}.attn.qkv.weight"]  # rows: q (4 heads), k (2 heads), v (2 heads)
        q, k, v = w.split([4 * d, 2 * d, 2 * d])
        k = k.view(2, d, C).repeat_interleave(2, dim=0).reshape(4 * d, C)
        v = v.view(2, d, C).repeat_interleave(2, dim=0).reshape(4 * d, C)
        state[f"blocks.{i}.attn.qkv.weight"] = torch.cat([q, k, v])
    mha.load_state_dict(state)
    torch.testing.assert_close(gqa(tokens()), mha(tokens()), rtol=1e-5, atol=1e-6)


def test_attn_logit_max_is_max_visible_score_without_alibi_bias():
    cfg = tiny(n_layer=1, pos="alibi", qk_norm=True, window=3)
    model = build(cfg)
    idx, cap = tokens(), {}
    with torch.no_grad():
        model(idx, capture=cap)
        block = model.blocks[0]
        q, k, _ = block.attn.heads(block.norm1(model.wte(idx)), model.pos)
    scores = q @ k.transpose(-1, -2) / math.sqrt(cfg.head_dim)
    mask = AttentionMask.build(T, 3, None)
    expected = scores.masked_fill(~mask.visible, -math.inf).amax((0, 2, 3))
    torch.testing.assert_close(cap["attn_logit_max"][0], expected)
    assert torch.equal(cap["visible"], mask.visible)


def test_qk_norm_bounds_attention_logits():
    """With unit-RMS q and k per head, |q . k| / sqrt(d) <= sqrt(d), however large the weights."""
    for qk_norm in [False, True]:
        model = build(tiny(qk_norm=qk_norm, init_std=2.0))
        cap: dict = {}
        with torch.no_grad():
            model(tokens(), capture=cap)
        bound = math.sqrt(tiny().head_dim) + 1e-4
        worst = max(float(m.max()) for m in cap["attn_logit_max"])
        assert (worst <= bound) == qk_norm, worst


def test_window_mask_blocks_exactly_the_keys_outside_the_window():
    mask = AttentionMask.build(6, 2, None)
    expected = torch.tensor([[j <= i and j > i - 2 for j in range(6)] for i in range(6)])
    assert torch.equal(mask.visible, expected)
    assert torch.equal(AttentionMask.build(6, None, None).visible, torch.ones(6, 6).tril().bool())
    assert torch.equal(mask.sdpa, expected)  # SDPA gets the same boolean mask


def test_window_model_ignores_tokens_outside_the_window():
    """One layer: logits at i depend only on tokens i-window+1 .. i."""
    model = build(tiny(n_layer=1, window=3, pos="rope"))
    idx = tokens()
    changed = idx.clone()
    changed[:, 2] = (changed[:, 2] + 1) % V
    with torch.no_grad():
        a, b = model(idx), model(changed)
    assert torch.equal(a[:, 5:], b[:, 5:])  # position 2 is outside every window from 5 on
    assert not torch.allclose(a[:, 2:5], b[:, 2:5])


@pytest.mark.parametrize("length", [5, 16, 37])  # shorter than, equal to, not a multiple of
def test_linear_attention_recurrent_chunked_and_quadratic_forms_agree(length):
    q, k, v = (torch.randn(2, 3, length, 4, generator=gen(s)) for s in range(3))
    quadratic = linear_attention_weights(q, k) @ v
    torch.testing.assert_close(linear_attention_recurrent(q, k, v), quadratic)
    torch.testing.assert_close(linear_attention_chunked(q, k, v, chunk=16), quadratic)
    torch.testing.assert_close(linear_attention_chunked(q, k, v, chunk=4), quadratic)
    # the weights are phi(q_i) . phi(k_j) / sum_{j' <= i} phi(q_i) . phi(k_j'), by hand
    phi = lambda x: torch.where(x > 0, x + 1, torch.exp(x))  # noqa: E731  elu(x) + 1
    w = linear_attention_weights(q, k)
    i = length // 2
    raw = (phi(q[0, 1, i]) * phi(k[0, 1, : i + 1])).sum(-1)
    torch.testing.assert_close(w[0, 1, i, : i + 1], raw / raw.sum())
    assert (w[0, 1, i, i + 1 :] == 0).all()


def test_linear_attention_rejects_alibi_and_window_at_construction():
    from ablate.model.linear_attention import LinearAttention

    with pytest.raises(ValueError, match="model.attention=linear with model.pos=alibi"):
        LinearAttention(tiny(attention="linear", pos="alibi"))
    with pytest.raises(ValueError, match="model.attention=linear with model.window=2"):
        LinearAttention(tiny(attention="linear", window=2))


# ---------------------------------------------------------------- positions


def test_rope_scores_depend_only_on_relative_offset():
    cfg = tiny(pos="rope", n_head=2)
    rope = RotaryPosition(cfg)
    d = cfg.head_dim
    q0, k0 = torch.randn(d, generator=gen(1)), torch.randn(d, generator=gen(2))
    # the same q and k vector at every position: the score can only vary with the offset
    q, k = rope.rotate(q0.expand(1, 1, 12, d), k0.expand(1, 1, 12, d))
    scores = (q @ k.transpose(-1, -2))[0, 0]
    for offset in range(-3, 4):
        diagonal = torch.diagonal(scores, offset)
        torch.testing.assert_close(diagonal, diagonal[0].expand_as(diagonal))
    torch.testing.assert_close(q[0, 0, 0], q0)  # position 0 is not rotated
    torch.testing.assert_close(q.norm(dim=-1), q0.norm().expand(1, 1, 12))  # rotations
    assert not torch.allclose(scores[0, 0], scores[5, 0])


def test_rope_frequencies_follow_the_base():
    rope = RotaryPosition(tiny(pos="rope", n_head=2, rope_base=100.0))
    expected = torch.tensor([100.0 ** (-2 * i / 8) for i in range(4)])
    torch.testing.assert_close(rope.inv_freq, expected)


def test_alibi_slopes_power_of_two():
    assert alibi_slopes(8) == pytest.approx([2.0**-i for i in range(1, 9)])


def test_alibi_slopes_not_power_of_two():
    # 6 heads: the 4-head slopes 2^-2, 2^-4, 2^-6, 2^-8, then every other 8-head slope
    # (2^-1, 2^-3, 2^-5, 2^-7) for the 2 remaining heads
    assert alibi_slopes(6) == pytest.approx([2**-2, 2**-4, 2**-6, 2**-8, 2**-1, 2**-3])
    # 12 heads: 8-head slopes 2^-1..2^-8, then 16-head slopes (2^-0.5 k) at k = 1, 3, 5, 7
    expected = [2.0**-i for i in range(1, 9)] + [2**-0.5, 2**-1.5, 2**-2.5, 2**-3.5]
    assert alibi_slopes(12) == pytest.approx(expected)


def test_alibi_attention_is_a_distance_penalty():
    """With q = k = 0 every score is the bias, so probs_ij = softmax_j(-slope * (i - j))."""
    cfg = tiny(n_layer=1, n_head=2, pos="alibi")
    model = build(cfg)
    with torch.no_grad():
        model.blocks[0].attn.qkv.weight[: 2 * cfg.d_model].zero_()  # q and k rows
        cap: dict = {}
        model(tokens(), capture=cap)
    probs = cap["attn_probs"][0][0]  # (H, T, T)
    for h, slope in enumerate([2**-4, 2**-8]):
        i = 5
        w = torch.tensor([math.exp(-slope * (i - j)) for j in range(i + 1)])
        torch.testing.assert_close(probs[h, i, : i + 1], w / w.sum())


def test_sinusoidal_table_matches_formula():
    for dim in [6, 7]:
        table = sinusoidal_table(5, dim)
        for p in range(5):
            for c in range(dim):
                angle = p / 10000 ** ((c - c % 2) / dim)
                expected = math.sin(angle) if c % 2 == 0 else math.cos(angle)
                assert table[p, c].item() == pytest.approx(expected, abs=1e-6)


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
