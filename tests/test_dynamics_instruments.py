"""The training-dynamics instruments against values computed another way: sharpness
against the dense Hessian's eigenvalues, the noise scale on a problem whose gradient
covariance is known in closed form, sinks and massive activations on hand-built inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.func import functional_call

from ablate.model.transformer import build_model
from ablate.probes.attention_stats import massive_ratio, sink_mass
from ablate.probes.curvature import adam_preconditioner, edge_of_stability, top_eigenvalue
from ablate.probes.noise_scale import NoiseScale, noise_estimates
from ablate.spec.config import ModelConfig

V, T = 7, 6


@pytest.fixture(scope="module")
def tiny():
    """A trained-a-little tiny model, its loss on a fixed batch, and its dense Hessian."""
    cfg = ModelConfig(d_model=8, n_layer=1, n_head=2, context=T, vocab_size=V, d_ff=8)
    model = build_model(cfg, generator=torch.Generator().manual_seed(0)).double()
    x = torch.randint(0, V, (4, T), generator=torch.Generator().manual_seed(1))
    y = x.roll(-1, 1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-2)
    for _ in range(30):  # move off the init, towards a minimum
        loss = torch.nn.functional.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    names = [n for n, _ in model.named_parameters()]
    params = [p for _, p in model.named_parameters()]
    shapes = [p.shape for p in params]

    def loss_fn():  # the written-out attention (capture): fused SDPA has no 2nd derivative
        logits = model(x, capture={})
        return torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())

    def flat_loss(flat):
        parts, i = {}, 0
        for name, shape in zip(names, shapes, strict=True):
            n = math.prod(shape)
            parts[name] = flat[i : i + n].view(shape)
            i += n
        logits = functional_call(model, parts, (x,), {"capture": {}})
        return torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())

    flat = torch.cat([p.detach().flatten() for p in params])
    hessian = torch.autograd.functional.hessian(flat_loss, flat)
    return loss_fn, params, hessian.numpy(), opt


def test_sharpness_is_the_dense_hessians_top_eigenvalue(tiny):
    loss_fn, params, hessian, _ = tiny
    eig = np.linalg.eigvalsh((hessian + hessian.T) / 2)
    assert eig.max() > abs(eig.min())  # the top eigenvalue dominates: power iteration finds it
    estimate, v = top_eigenvalue(loss_fn, params, iters=500, tol=1e-7)
    assert estimate == pytest.approx(eig.max(), rel=0.01)
    # warm-started from its own vector, a few products suffice
    again, _ = top_eigenvalue(loss_fn, params, v0=v, iters=3, tol=0.0)
    assert again == pytest.approx(eig.max(), rel=0.01)


@pytest.mark.parametrize("precond", [None, [torch.tensor([1.0, 2.0, 0.5, 4.0])]])
def test_sharpness_is_the_top_eigenvalue_where_a_negative_one_dominates(precond):
    """A saddle (as at init): eigenvalues -5, -1, 0.5, 2 of a rotated quadratic form.
    Power iteration alone would return -5; the shifted second run finds the top."""
    gen = torch.Generator().manual_seed(4)
    q, _ = torch.linalg.qr(torch.randn(4, 4, generator=gen, dtype=torch.float64))
    a = q @ torch.diag(torch.tensor([-5.0, -1.0, 0.5, 2.0], dtype=torch.float64)) @ q.T
    theta = torch.nn.Parameter(torch.randn(4, generator=gen, dtype=torch.float64))
    p = None if precond is None else [precond[0].double()]
    want = np.linalg.eigvals((a / (1.0 if p is None else p[0][:, None])).numpy()).real.max()
    estimate, _ = top_eigenvalue(
        lambda: 0.5 * theta @ a @ theta, [theta], precond=p, iters=2000, tol=1e-10
    )
    assert estimate == pytest.approx(want, rel=0.01)


def test_preconditioned_sharpness_is_the_top_eigenvalue_of_p_inverse_h(tiny):
    loss_fn, params, hessian, _ = tiny
    gen = torch.Generator().manual_seed(3)
    precond = [torch.rand(p.shape, generator=gen, dtype=p.dtype) + 0.5 for p in params]
    d = torch.cat([q.flatten() for q in precond]).numpy()
    eig = np.linalg.eigvals(hessian / d[:, None]).real  # P^-1 H
    estimate, _ = top_eigenvalue(loss_fn, params, precond=precond, iters=500, tol=1e-7)
    assert estimate == pytest.approx(eig.max(), rel=0.01)


def test_the_adam_preconditioner_is_sqrt_of_the_bias_corrected_second_moment():
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = torch.optim.AdamW([w], lr=0.1, betas=(0.9, 0.99), eps=1e-8)
    assert adam_preconditioner(opt, [w]) is None  # no step yet
    (w * torch.tensor([3.0, 4.0])).sum().backward()
    opt.step()
    (p,) = adam_preconditioner(opt, [w])
    # after one step v = (1 - b2) g^2, v_hat = g^2: P = |g| + eps
    assert torch.allclose(p, torch.tensor([3.0, 4.0]) + 1e-8)
    assert edge_of_stability(0.01, 0.9) == pytest.approx((200.0, 3800.0))


def test_noise_scale_recovers_the_gradient_noise_of_linear_regression():
    """loss_i = (x_i.w - y_i)^2 / 2, x ~ N(0, I_D), y = x.w* + N(0, s^2). At w = w* + d the
    per-example gradient g = x (x.d - e) has mean d and covariance
    d d^T + (|d|^2 + s^2) I, so |G|^2 = |d|^2 and tr(S) = |d|^2 (1 + D) + D s^2."""
    D, s, b, B, probes = 6, 0.5, 4, 64, 3000
    rng = np.random.default_rng(0)
    d = rng.normal(size=D) * 0.3
    small, big = [], []
    for _ in range(probes):
        x = rng.normal(size=(B, D))
        e = rng.normal(size=B) * s
        g = x * (x @ d - e)[:, None]  # per-example gradients (B, D)
        big.append(float(np.sum(g.mean(0) ** 2)))
        micro = g.reshape(B // b, b, D).mean(1)
        small.append(float(np.mean(np.sum(micro**2, axis=1))))
    g2, trace = noise_estimates(np.mean(small), np.mean(big), b, B)
    assert g2 == pytest.approx(d @ d, rel=0.05)
    assert trace == pytest.approx((d @ d) * (1 + D) + D * s**2, rel=0.05)
    smoothed = NoiseScale(decay=0.99)
    for sm, bg in zip(small, big, strict=True):
        value = smoothed.update(sm, bg, b, B)
    assert value == pytest.approx(((d @ d) * (1 + D) + D * s**2) / (d @ d), rel=0.15)
    with pytest.raises(ValueError, match="b_small < b_big"):
        noise_estimates(1.0, 1.0, 8, 8)


def test_sink_mass_and_massive_ratio_on_hand_built_inputs():
    B, H, T = 2, 3, 5
    probs = torch.zeros(B, H, T, T)
    for i in range(T):  # head h puts mass m_h on key 0, the rest evenly on keys 1..i
        for h, m in enumerate((0.9, 0.5, 0.0)):
            if i == 0:
                probs[:, h, 0, 0] = 1.0
            else:
                probs[:, h, i, 0] = m if h < 2 else 0.0
                probs[:, h, i, 1 : i + 1] = (1 - probs[0, h, i, 0]) / i
    assert torch.allclose(sink_mass(probs), torch.tensor([0.9, 0.5, 0.0]))
    resid = torch.ones(2, 4, 8)
    resid[1, 2, 3] = -500.0
    assert massive_ratio(resid) == pytest.approx(500.0)
    assert massive_ratio(torch.randn(2, 4, 8).abs() + 1) < 10
