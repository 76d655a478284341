"""One training step, and its metrics on their way from the device to the run's records.

A step leaves its loss, gradient norms and clipping on the device as tensors
(``StepResult``); ``PendingSteps.flush`` copies the waiting steps to the host in one go,
records them, and runs the divergence check on each in step order. On the CPU the loop
flushes after every step, so a run stops at the very step its loss diverged; on a GPU every
few steps, and a diverged run's rows are cut at the step that diverged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ablate.probes.gradients import group_grad_norms
from ablate.probes.status import divergence
from ablate.train.evaluate import masked_loss
from ablate.train.lr_schedule import lr_at


@dataclass(frozen=True)
class Stop:
    """Why training ended before its last step: 'diverged' or 'oom'."""

    kind: str
    step: int
    reason: str


@dataclass
class StepResult:
    step: int
    lr: float
    tokens: int
    loss: torch.Tensor  # cross-entropy, 0-dim, on the device
    grad_norm: torch.Tensor  # global norm before clipping
    group_norms: dict  # (layer, module kind) -> 0-dim tensor


def make_optimizer(model: torch.nn.Module, t) -> torch.optim.Optimizer:
    """AdamW; weight decay on matrices only (not on gains and biases), as in nanoGPT.

    Each group's ``lr_mult`` multiplies the schedule's lr (Stepper): 1 everywhere under SP;
    under muP 1 / width_mult for the hidden matrices (Yang et al. 2022, Adam), so their
    updates change a wider model's activations by as much as the base model's."""
    params = [p for p in model.parameters() if p.requires_grad]
    hidden = {id(p) for p in model.hidden_matrices()}
    decay = [p for p in params if p.dim() >= 2 and id(p) not in hidden]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [
        {
            "params": [p for p in params if id(p) in hidden],
            "weight_decay": t.weight_decay,
            "lr_mult": 1.0 / model.width_mult,
        },
        {"params": decay, "weight_decay": t.weight_decay, "lr_mult": 1.0},
        {"params": no_decay, "weight_decay": 0.0, "lr_mult": 1.0},
    ]
    groups = [g for g in groups if g["params"]]
    return torch.optim.AdamW(groups, lr=t.lr, betas=(t.beta1, t.beta2), foreach=True)


class Stepper:
    """Trains one step at a time; everything that does not change between steps is here."""

    def __init__(self, model, optimizer, task, data_seed: int, t, autocast):
        self.model, self.optimizer, self.task, self.t = model, optimizer, task, t
        self.data_seed, self.autocast = data_seed, autocast
        self.groups = model.module_groups()
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.device = self.params[0].device
        self.max_norm = t.grad_clip if t.grad_clip > 0 else math.inf

    def __call__(self, step: int) -> StepResult:
        lr = lr_at(step, self.t)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group["lr_mult"]
        batch = self.task.train_batch(self.data_seed, step, self.t.batch_size)
        x, y, mask = (v.to(self.device, non_blocking=True) for v in batch)
        with self.autocast():
            logits = self.model(x)
        loss, ce = masked_loss(logits, y, mask, self.t.z_loss)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        group_norms = group_grad_norms(self.groups)
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.max_norm, foreach=True)
        # A non-finite gradient must not reach the weights. Checking costs a device sync,
        # free on the CPU; on a GPU the step goes ahead, and the divergence check a few
        # steps later cuts the run's records at this step (its weights are NaN by then).
        if self.device.type != "cpu" or math.isfinite(float(grad_norm)):
            self.optimizer.step()
        return StepResult(step, lr, x.numel(), ce.detach(), grad_norm.detach(), group_norms)


class PendingSteps:
    """Steps trained but not yet read back from the device."""

    def __init__(self, records, progress, t, bar, log):
        self.records, self.progress, self.t, self.bar, self.log = records, progress, t, bar, log
        self.waiting: list[StepResult] = []

    def __len__(self) -> int:
        return len(self.waiting)

    def add(self, result: StepResult) -> None:
        self.waiting.append(result)

    def flush(self, elapsed_s: float) -> Stop | None:
        """Record the waiting steps in order; stop at the first that diverged."""
        waiting, self.waiting = self.waiting, []
        for r in waiting:
            loss, grad_norm = float(r.loss), float(r.grad_norm)
            if r.step == 1:
                self.progress.initial_loss = loss
            self.progress.tokens += r.tokens
            self.records.add("steps", [self._step_row(r, loss, grad_norm, elapsed_s)])
            self.records.add(
                "grads",
                [
                    {"step": r.step, "layer": layer, "module": kind, "grad_norm": float(norm)}
                    for (layer, kind), norm in r.group_norms.items()
                ],
            )
            self.progress.step = r.step
            self.bar(r.step, loss, r.lr, grad_norm, self.log)
            initial = self.progress.initial_loss
            diverged = divergence(loss, initial, self.t.diverge_factor, r.step)
            if diverged is None and not math.isfinite(grad_norm):
                diverged = divergence(grad_norm, initial, self.t.diverge_factor, r.step)
            if diverged is not None:
                return Stop("diverged", r.step, diverged.reason)
        return None

    def _step_row(self, r: StepResult, loss: float, grad_norm: float, elapsed_s: float) -> dict:
        return {
            "step": r.step,
            "loss": loss,
            "lr": r.lr,
            "grad_norm": grad_norm,
            "clipped": bool(self.t.grad_clip > 0 and grad_norm > self.t.grad_clip),
            "tokens": self.progress.tokens,
            "time_s": elapsed_s,
        }
