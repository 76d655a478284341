"""Numeric tests of the attention variants and positional encodings against hand-computed or
reference values (norms, FFNs, blocks, init and cost: test_model_layers.py)."""

from __future__ import annotations

import math

import pytest
import torch
from tiny_model import T, V, build, gen, tiny, tokens

from ablate.model.attention import AttentionMask
from ablate.model.linear_attention import (
    linear_attention_chunked,
    linear_attention_recurrent,
    linear_attention_weights,
)
from ablate.model.position import RotaryPosition, alibi_slopes, sinusoidal_table

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
