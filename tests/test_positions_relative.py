"""The relative positional encodings against their definitions: T5's buckets, xPos's
relative and decaying scores, FIRE's normalised distances."""

from __future__ import annotations

import torch

from ablate.model.position import FirePosition, RotaryPosition, T5Position, XPosPosition
from ablate.spec.config import ModelConfig

CFG = ModelConfig(d_model=16, n_layer=1, n_head=2, context=16, vocab_size=5)


def test_t5_buckets_are_exact_then_logarithmic_then_capped():
    d = torch.arange(0, 300)
    b = T5Position.bucket(d)
    assert torch.equal(b[:16], torch.arange(16))  # one bucket per short distance
    assert (b[1:] >= b[:-1]).all()  # monotone
    assert int(b[64]) < 31 and (b[128:] == 31).all()  # from MAX_DISTANCE on: the last
    # log-spaced: the widths of the buckets 16..31 grow
    widths = torch.bincount(b[16:128])[16:]
    assert widths[-1] > widths[0]


def test_t5_bias_depends_on_distance_only_and_is_learned_per_head():
    pos = T5Position(CFG)
    torch.nn.init.normal_(pos.table, generator=torch.Generator().manual_seed(0))
    bias = pos.bias(40)  # longer than the context: relative, any length
    assert bias.shape == (2, 40, 40)
    for i, j in [(5, 2), (30, 0), (39, 10)]:
        d = i - j
        assert torch.equal(bias[:, i, j], pos.table[T5Position.bucket(torch.tensor(d))])
        assert torch.equal(bias[:, i, j], bias[:, i - j, 0])
    assert not torch.equal(bias[0], bias[1])


def test_xpos_scores_are_relative_and_decay_with_distance():
    q = torch.ones(1, 1, 48, 8)  # the same q and k at every position
    xq, xk = XPosPosition(CFG).rotate(q, q)
    rq, rk = RotaryPosition(CFG).rotate(q, q)
    xs, rs = xq[0, 0] @ xk[0, 0].T, rq[0, 0] @ rk[0, 0].T
    # relative: score(n, m) = score(n + s, m + s)
    assert torch.allclose(xs[20, 5], xs[30, 15], atol=1e-5)
    # at distance 0 the scales cancel (xPos is RoPE there); at distance d channel pair i is
    # scaled by zeta_i^(d / 512) < 1
    assert torch.allclose(xs.diagonal(), rs.diagonal(), atol=1e-5)
    half, d = 4, 40
    zeta = (torch.arange(half) / half + 0.4) / 1.4
    angle = 10000.0 ** (-torch.arange(0, 8, 2) / 8)
    expected = 2 * sum(float(zeta[i] ** (d / 512.0) * torch.cos(d * angle[i])) for i in range(half))
    assert abs(float(xs[45, 5]) - expected) < 1e-4


def test_fire_normalises_distances_into_the_unit_interval():
    fire = FirePosition(CFG)
    fire.init_parameters(0.02, torch.Generator().manual_seed(0))
    assert (
        abs(float(torch.nn.functional.softplus(fire.raw_c.detach())) - 1.0) < 1e-6
    )  # c starts at 1
    assert abs(float(torch.nn.functional.softplus(fire.raw_L.detach())) - CFG.context) < 1e-4
    seen = []  # what the MLP is given: psi(i - j) / psi(max(L, i)) for every (i, j)
    fire.mlp.register_forward_pre_hook(lambda module, args: seen.append(args[0][..., 0]))
    T = 40  # beyond the context of 16
    assert fire.bias(T).shape == (CFG.n_head, T, T)
    normalised = seen[0]
    assert normalised.min() >= 0 and normalised.max() <= 1 + 1e-6
    # within the context psi(max(L, i)) = psi(L): a function of i - j only
    assert torch.allclose(normalised[10, 3], normalised[12, 5])
    # beyond it each query's farthest key (j = 0) sits at exactly 1
    assert torch.allclose(normalised[T - 1, 0], torch.tensor(1.0))
    assert normalised[8, 0] < 1
