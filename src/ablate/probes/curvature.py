"""Curvature of the loss: the top eigenvalue of its Hessian ("sharpness"), plain and
Adam-preconditioned, by power iteration on Hessian-vector products.

    H v         = d/dθ (∇L(θ) · v)          one double backward (Pearlmutter 1994)
    sharpness   = λ_max(H)
    precond.    = λ_max(P⁻¹ H), P = diag(√v̂ + ε) from Adam's second moments

P⁻¹H is not symmetric, but it is similar to P^-1/2 H P^-1/2, which is (same eigenvalues),
so power iteration runs on u -> P^-1/2 H P^-1/2 u. Cohen et al. 2021 ("Gradient Descent on
Neural Networks Typically Occurs at the Edge of Stability") find full-batch GD's sharpness
rising to 2/η and hovering there; Cohen et al. 2022 ("Adaptive Gradient Methods at the Edge
of Stability") find Adam's preconditioned sharpness at (2 + 2β₁)/((1 − β₁)η), so both
thresholds are drawn beside the measurements.

Power iteration converges to the eigenvalue of largest magnitude; where that is negative
(near init, or a saddle) a second, shifted run finds the top one (the tests check both
against the dense Hessian). Each call takes at most
``iters`` products and stops once the estimate changes by less than ``tol`` (relative);
``v0``, the previous probe's vector, warm-starts it. The start vector's random draw comes
from its own generator, so measuring never moves torch's RNG (the run's trajectory).
``loss_fn`` must run the model's written-out attention (``model(x, capture={})``): torch's
fused CPU attention kernel has no second derivative.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

ITERS, TOL = 20, 1e-3


def hvp(loss_fn: Callable[[], torch.Tensor], params: list[torch.Tensor], v: list[torch.Tensor]):
    """H v for the loss ``loss_fn()`` (a fresh forward pass) at ``params``."""
    loss = loss_fn()
    grads = torch.autograd.grad(loss, params, create_graph=True)
    dot = sum((g * u).sum() for g, u in zip(grads, v, strict=True))
    return [h.detach() for h in torch.autograd.grad(dot, params)]


def _normalise(v: list[torch.Tensor]) -> list[torch.Tensor]:
    norm = math.sqrt(sum(float((u * u).sum()) for u in v))
    return [u / norm for u in v]


def top_eigenvalue(
    loss_fn: Callable[[], torch.Tensor],
    params: list[torch.Tensor],
    precond: list[torch.Tensor] | None = None,
    v0: list[torch.Tensor] | None = None,
    iters: int = ITERS,
    tol: float = TOL,
    seed: int = 0,
) -> tuple[float, list[torch.Tensor]]:
    """(λ_max of H, or of P⁻¹H with P = ``precond`` (diagonal, one tensor per parameter),
    the eigenvector estimate to warm-start the next call).

    Power iteration finds the eigenvalue of largest magnitude. Where that is negative (at
    init, or on a saddle), a second run on the shifted operator A − σI, σ the negative one,
    finds λ_max − σ: every eigenvalue of A − σI is ≥ 0 then, and the largest is the top."""
    if v0 is None:
        gen = torch.Generator().manual_seed(seed)
        v0 = [torch.randn(p.shape, generator=gen).to(p) for p in params]
    scale = None if precond is None else [d.rsqrt() for d in precond]  # P^-1/2

    def operator(v):  # P^-1/2 H P^-1/2 v (similar to P⁻¹H), or H v
        u = v if scale is None else [a * s for a, s in zip(v, scale, strict=True)]
        hu = hvp(loss_fn, params, u)
        return hu if scale is None else [a * s for a, s in zip(hu, scale, strict=True)]

    estimate, v = _power(operator, v0, iters, tol)
    if estimate < 0:
        sigma = estimate
        shifted, v = _power(
            lambda u: [a - sigma * b for a, b in zip(operator(u), u, strict=True)],
            [
                torch.randn(p.shape, generator=torch.Generator().manual_seed(seed + 1)).to(p)
                for p in params
            ],
            iters,
            tol,
        )
        estimate = shifted + sigma
    return estimate, v


def _power(operator, v0, iters: int, tol: float) -> tuple[float, list[torch.Tensor]]:
    v = _normalise(v0)
    estimate = math.nan
    for _ in range(iters):
        w = operator(v)
        new = sum(float((a * b).sum()) for a, b in zip(v, w, strict=True))  # Rayleigh
        v = _normalise(w)
        if math.isfinite(estimate) and abs(new - estimate) <= tol * abs(new):
            return new, v
        estimate = new
    return estimate, v


def adam_preconditioner(optimizer: torch.optim.Optimizer, params: list[torch.Tensor]):
    """P = (√v̂ + ε) / m per parameter from an Adam(W) optimizer's state (v̂: the bias-corrected
    second moment; m: the group's ``lr_mult``, 1 unless muP scales the group's lr, so that
    every parameter's update is η P⁻¹ m̂ with the one η the thresholds use); None before
    the first step."""
    out = []
    for group in optimizer.param_groups:
        beta2, eps, mult = group["betas"][1], group["eps"], group.get("lr_mult", 1.0)
        for p in group["params"]:
            state = optimizer.state.get(p, {})
            if "exp_avg_sq" not in state:
                return None
            step = float(state["step"])
            v_hat = state["exp_avg_sq"] / (1 - beta2**step)
            out.append((p, (v_hat.sqrt() + eps) / mult))
    by_param = {id(p): d for p, d in out}
    return [by_param[id(p)] for p in params]


def edge_of_stability(lr: float, beta1: float) -> tuple[float, float]:
    """(2/η, the threshold of gradient descent; (2 + 2β₁)/((1 − β₁)η), Adam's)."""
    return 2.0 / lr, (2.0 + 2.0 * beta1) / ((1.0 - beta1) * lr)
