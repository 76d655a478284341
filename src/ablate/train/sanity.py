"""The classic bug check: a correct model and loss can memorise one small batch.

If the loss on one fixed batch does not approach zero within a step budget, something
is wrong (masking, positions, a detached parameter, a broken loss), whatever the
variant claims. We use a constant learning rate, no weight decay and no dropout, since
we want memorisation, not generalisation.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch

from ablate.spec.run_spec import RunSpec
from ablate.train.evaluate import masked_loss
from ablate.train.loop import setup


@dataclass(frozen=True)
class SanityResult:
    ok: bool
    initial_loss: float
    final_loss: float
    steps: int
    message: str


def overfit_one_batch(
    spec: RunSpec,
    steps: int = 300,
    batch_size: int = 4,
    lr: float = 1e-2,
    target: float = 0.1,
    threads: int = 1,
    root=".",
) -> SanityResult:
    """Train on one fixed batch until the loss is below ``target`` nats or steps run out."""
    spec = dataclasses.replace(spec, model=dataclasses.replace(spec.model, dropout=0.0))
    model, task, _, autocast = setup(spec, threads, root)
    x, y, mask = task.train_batch(spec.data_seed, 1, batch_size)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0, betas=(0.9, 0.99))
    initial = loss_value = math.nan
    for step in range(1, steps + 1):
        with autocast():
            logits = model(x)
        loss, _ = masked_loss(logits, y, mask)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        loss_value = float(loss.detach())
        if step == 1:
            initial = loss_value
        if loss_value < target:
            break
    ok = loss_value < target
    verdict = "ok" if ok else "FAILED"
    message = (
        f"sanity {verdict}: one batch of {batch_size}x{x.shape[1]} tokens, loss "
        f"{initial:.3f} -> {loss_value:.4f} in {step} steps (target < {target})"
    )
    return SanityResult(ok, initial, loss_value, step, message)
