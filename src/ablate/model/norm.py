"""Normalisation layers over the last dimension: LayerNorm and RMSNorm."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ablate.spec.config import ModelConfig


class LayerNorm(nn.Module):
    """LayerNorm with an optional bias (torch's has no ``bias=False`` switch before 2.1)."""

    def __init__(self, dim: int, bias: bool = False, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None

    @classmethod
    def from_config(cls, cfg: ModelConfig, dim: int | None = None) -> LayerNorm:
        return cls(dim or cfg.d_model, bias=cfg.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * gain: no mean subtraction, no bias (Zhang & Sennrich 2019).

    Written out instead of calling torch.nn.RMSNorm so the formula is visible; a test checks
    it against torch's. The statistic is computed in float32 so that bf16 activations under
    autocast do not lose precision in the mean of squares.
    """

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    @classmethod
    def from_config(cls, cfg: ModelConfig, dim: int | None = None) -> RMSNorm:
        return cls(dim or cfg.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return xf.type_as(x) * self.weight.type_as(x)
