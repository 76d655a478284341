"""Position-wise feed-forward networks: 2-matrix MLPs (GELU, ReLU), SwiGLU, or none."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ablate.spec.config import ModelConfig
from ablate.spec.registry import swiglu_hidden


class MLP(nn.Module):
    """x -> W2 act(W1 x): the GPT-2 feed-forward block."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.up = nn.Linear(cfg.d_model, cfg.ffn_hidden, bias=cfg.bias)
        self.down = nn.Linear(cfg.ffn_hidden, cfg.d_model, bias=cfg.bias)
        self.down.is_residual_output = True  # scaled init, see Transformer._init_weights
        self.dropout = nn.Dropout(cfg.dropout)

    def act(self, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.down(self.act(self.up(x))))


class GeluMLP(MLP):
    def act(self, h: torch.Tensor) -> torch.Tensor:
        return F.gelu(h)


class ReluMLP(MLP):
    def act(self, h: torch.Tensor) -> torch.Tensor:
        return F.relu(h)


class SwiGLU(nn.Module):
    """x -> W2 (silu(W1 x) * (W3 x)): a gated unit (Shazeer 2020, used by LLaMA)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        hidden = swiglu_hidden(cfg)
        self.gate = nn.Linear(cfg.d_model, hidden, bias=cfg.bias)
        self.up = nn.Linear(cfg.d_model, hidden, bias=cfg.bias)
        self.down = nn.Linear(hidden, cfg.d_model, bias=cfg.bias)
        self.down.is_residual_output = True
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.down(F.silu(self.gate(x)) * self.up(x)))


class NoFFN(nn.Module):
    """No feed-forward sub-layer at all: an attention-only transformer, the setting in
    which induction heads were first studied (Olsson et al. 2022). The block skips the
    sub-layer and its norm (``present=False`` in its registry entry)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
