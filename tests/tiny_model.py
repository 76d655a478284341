"""A tiny model config and seeded inputs for the component tests (test_model_*.py)."""

from __future__ import annotations

import torch

from ablate.model.transformer import build_model
from ablate.spec.config import ModelConfig

V, B, T = 11, 2, 8


def tiny(**overrides) -> ModelConfig:
    base = dict(d_model=16, n_layer=2, n_head=4, context=T, vocab_size=V)
    return ModelConfig(**{**base, **overrides})


def build(cfg: ModelConfig, seed: int = 0):
    return build_model(cfg, generator=torch.Generator().manual_seed(seed)).eval()


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def tokens(seed: int = 1, length: int = T) -> torch.Tensor:
    return torch.randint(0, V, (B, length), generator=gen(seed))
