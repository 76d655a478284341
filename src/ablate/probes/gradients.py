"""Gradient norms per layer and module kind, and update-to-weight ratios.

The global norm is the root of the sum of squares of the group norms, so the per-group
numbers decompose it exactly (tests check this against clip_grad_norm_'s total).
"""

from __future__ import annotations

import torch


def group_grad_norms(groups: dict[tuple[int, str], list[torch.nn.Parameter]]) -> dict:
    """(layer, kind) -> L2 norm of the gradients of that group (0 for groups without grad),
    as 0-dim tensors left on the device: the loop reads them in batches, not every step."""
    out = {}
    for key, params in groups.items():
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            out[key] = torch.zeros(())
            continue
        norms = torch._foreach_norm(grads)
        out[key] = torch.linalg.vector_norm(torch.stack(norms))
    return out


def layer_snapshot(model) -> list[list[torch.Tensor]]:
    """Copies of every block's parameters, to measure how far the next probe moved them."""
    return [[p.detach().clone() for p in block.parameters()] for block in model.blocks]


def update_ratios(model, before: list[list[torch.Tensor]], steps: int) -> list[float]:
    """Per block: ||W_now - W_before|| / ||W_before||, divided by the steps in between."""
    ratios = []
    for block, old in zip(model.blocks, before, strict=True):
        new = [p.detach() for p in block.parameters()]
        delta = torch.sqrt(sum(((n - o).float() ** 2).sum() for n, o in zip(new, old, strict=True)))
        size = torch.sqrt(sum((o.float() ** 2).sum() for o in old))
        ratios.append(float(delta / size.clamp_min(1e-12)) / max(steps, 1))
    return ratios
