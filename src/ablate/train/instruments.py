"""The training-dynamics instruments a study switches on (``probes:``, spec.ProbeConfig):
the gradient noise scale and the sharpness, plain and Adam-preconditioned, measured at each
probe step into the run's curvature table. (Attention sinks and massive activations come
from the probe batch's attention capture: train/evaluate.py.)

What they measure on: the batch the next step will train on, at the weights it will see
(``task.train_batch(data_seed, step + 1)``: batches are a pure function of the step, so
drawing it early changes nothing). The loss is the one training minimises (cross-entropy
plus any z-loss), with the model in eval mode: dropout, if any, is off, so the instruments
draw nothing from torch's RNG.

Why the trajectory cannot move: gradients come from ``torch.autograd.grad`` (never into
``.grad``), the optimizer's state is only read, the power iteration's random start has its
own generator, and the model returns to train mode. tests/test_instruments.py trains the
same spec with every instrument on and off and compares the losses bit for bit.

Cost: the noise scale is one forward and backward pass over the batch (in micro-batches),
about one training step; sharpness is up to ``sharpness_iters`` Hessian-vector products,
each a double backward through the written-out attention (torch's fused kernel has no
second derivative) on ``sharpness_batch`` sequences, in fp32. bench/bench_probes.py
measures each.
"""

from __future__ import annotations

import math

import torch

from ablate.probes.curvature import adam_preconditioner, edge_of_stability, top_eigenvalue
from ablate.probes.noise_scale import NoiseScale
from ablate.train.evaluate import masked_loss
from ablate.train.lr_schedule import lr_at


class Instruments:
    """The instruments of one run, with what carries from probe to probe (the noise scale's
    moving averages, the eigenvector estimates that warm-start the next power iteration):
    ``state()`` is saved in the run's checkpoint, so a resumed run measures the same."""

    def __init__(self, spec, model, optimizer, task, autocast):
        self.p, self.t = spec.probes, spec.train
        self.model, self.optimizer, self.task, self.autocast = model, optimizer, task, autocast
        self.data_seed = spec.data_seed
        self.params = [q for q in model.parameters() if q.requires_grad]
        self.noise = NoiseScale()
        self.vectors: dict[str, list[torch.Tensor] | None] = {"plain": None, "precond": None}

    @property
    def active(self) -> bool:
        return self.p.noise_scale or self.p.sharpness

    def state(self) -> dict:
        return {"noise": [self.noise.g2, self.noise.trace], "vectors": self.vectors}

    def load(self, state: dict | None) -> None:
        if state:
            self.noise.g2, self.noise.trace = state["noise"]
            self.vectors = state["vectors"]

    def measure(self, step: int) -> list[dict]:
        """One curvature row for ``step`` (tables.TABLES['curvature']); none if all are off."""
        if not self.active:
            return []
        nan = math.nan
        lr = lr_at(step + 1, self.t)  # the step the measurement is about
        eos_gd, eos_adam = edge_of_stability(lr, self.t.beta1)
        row = {
            "step": step,
            "lr": lr,
            "batch_size": self.t.batch_size,
            "noise_scale": nan,
            "noise_g2": nan,
            "noise_trace": nan,
            "sharpness": nan,
            "sharpness_precond": nan,
            "eos_gd": eos_gd,
            "eos_adam": eos_adam,
        }
        batch = self.task.train_batch(self.data_seed, step + 1, self.t.batch_size)
        device = self.params[0].device
        x, y, mask = (v.to(device) for v in batch)
        self.model.eval()
        try:
            if self.p.noise_scale:
                row |= self._noise(x, y, mask)
            if self.p.sharpness:
                n = self.p.sharpness_batch
                row |= self._sharpness(x[:n], y[:n], mask[:n], step)
        finally:
            self.model.train()
        return [row]

    def _loss(self, x, y, mask, capture: dict | None = None) -> torch.Tensor:
        with self.autocast() if capture is None else torch.autocast(x.device.type, enabled=False):
            logits = self.model(x, capture=capture)
        return masked_loss(logits, y, mask, self.t.z_loss)[0]

    def _noise(self, x, y, mask) -> dict:
        """|G_b|² averaged over k micro-batches of b sequences, and |G_B|² of their union
        (B = k b, the mean of the micro-batch gradients, each micro-batch weighted alike)."""
        k = self.p.noise_micro_batches
        b = x.shape[0] // k
        total = [torch.zeros_like(q) for q in self.params]
        small_sq = 0.0
        for i in range(k):
            part = slice(i * b, (i + 1) * b)
            grads = torch.autograd.grad(self._loss(x[part], y[part], mask[part]), self.params)
            small_sq += sum(float(g.float().pow(2).sum()) for g in grads) / k
            for acc, g in zip(total, grads, strict=True):
                acc.add_(g, alpha=1.0 / k)
        big_sq = sum(float(g.float().pow(2).sum()) for g in total)
        value = self.noise.update(small_sq, big_sq, b, b * k)
        return {"noise_scale": value, "noise_g2": self.noise.g2, "noise_trace": self.noise.trace}

    def _sharpness(self, x, y, mask, step: int) -> dict:
        def loss_fn():  # fp32, written-out attention: the fused kernel has no double backward
            return self._loss(x, y, mask, capture={})

        out = {}
        plain, self.vectors["plain"] = top_eigenvalue(
            loss_fn, self.params, v0=self.vectors["plain"], iters=self.p.sharpness_iters
        )
        out["sharpness"] = plain
        precond = adam_preconditioner(self.optimizer, self.params)
        if precond is not None:  # None before the first step: Adam has no second moments yet
            value, self.vectors["precond"] = top_eigenvalue(
                loss_fn,
                self.params,
                precond=precond,
                v0=self.vectors["precond"],
                iters=self.p.sharpness_iters,
                seed=1,
            )
            out["sharpness_precond"] = value
        return out
