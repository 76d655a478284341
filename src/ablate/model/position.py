"""Positional information, one class per scheme, all with the same three hooks.

A position module may act at three places, and does nothing (returns None / its input)
where it has nothing to say, so every scheme composes with every attention mechanism:

    embed(T)      (T, C) added to the token embeddings        learned, sinusoidal
    rotate(q, k)  q, k rotated by position before the scores  rope
    bias(T)       (H, T, T) added to the attention scores      alibi

One instance is shared by all layers (no scheme here has per-layer parameters). What the
rest of the lab needs to know about a scheme (its parameters, the longest sequence it takes,
its constraints) is in its registry entry, ``ablate.spec.registry.POSITION``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ablate.spec.config import ModelConfig


class NoPosition(nn.Module):
    """NoPE: no explicit positions; the causal mask alone tells tokens apart by order."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()

    def embed(self, T: int) -> torch.Tensor | None:
        return None

    def rotate(self, q: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return q, k

    def bias(self, T: int) -> torch.Tensor | None:
        return None


class LearnedPosition(NoPosition):
    """GPT-2: a trained (context, C) table; cannot go beyond the positions it has rows for."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.weight = nn.Parameter(torch.zeros(cfg.context, cfg.d_model))

    def embed(self, T: int) -> torch.Tensor:
        return self.weight[:T]


def sinusoidal_table(T: int, dim: int) -> torch.Tensor:
    """Vaswani et al. 2017: PE[p, 2i] = sin(p / 10000^(2i/dim)), PE[p, 2i+1] = cos(same)."""
    pos = torch.arange(T, dtype=torch.float32)[:, None]
    inv_freq = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float32) / dim)
    table = torch.zeros(T, dim)
    table[:, 0::2] = torch.sin(pos * inv_freq)
    table[:, 1::2] = torch.cos(pos * inv_freq)[:, : dim // 2]  # odd dim: one cos fewer
    return table


class SinusoidalPosition(NoPosition):
    """Fixed sin/cos table, computed for whatever length comes (no parameters).

    The table's entries have RMS 1/sqrt(2), while token embeddings start at RMS init_std
    (0.02). Added as it is, the position signal would swamp the tokens 35 to 1: measured
    here, the baseline then stalls at the unigram loss. Vaswani et al. scale the token
    embeddings up by sqrt(d_model); we scale the table down instead, to RMS init_std, the
    same as a learned table at init, so that only the encoding differs between the two.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.dim = cfg.d_model
        self.scale = cfg.init_std * math.sqrt(2)

    def embed(self, T: int) -> torch.Tensor:
        return self.scale * sinusoidal_table(T, self.dim)


class RotaryPosition(NoPosition):
    """RoPE (Su et al. 2021): rotate pairs of q, k channels by angle p * base^(-2i/d).

    The score q_p . k_s then depends only on p - s. Channels are paired as (i, i + d/2)
    ("rotate half", as in GPT-NeoX / LLaMA) rather than interleaved; both are RoPE.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        d = cfg.head_dim
        inv_freq = cfg.rope_base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
        self.register_buffer("inv_freq", inv_freq.float(), persistent=False)

    def cos_sin(self, T: int) -> tuple[torch.Tensor, torch.Tensor]:
        pos = torch.arange(T, dtype=torch.float32, device=self.inv_freq.device)
        angle = pos[:, None] * self.inv_freq  # (T, d/2)
        angle = torch.cat([angle, angle], dim=-1)  # (T, d): channel i and i + d/2 share it
        return angle.cos(), angle.sin()

    def rotate(self, q: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cos, sin = self.cos_sin(q.shape[-2])
        return _rotate(q, cos, sin), _rotate(k, cos, sin)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x (..., T, d): (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin) per channel pair."""
    x1, x2 = x.chunk(2, dim=-1)
    rotated_half = torch.cat([-x2, x1], dim=-1)
    return x * cos.to(x.dtype) + rotated_half * sin.to(x.dtype)


def alibi_slopes(n_head: int) -> list[float]:
    """Per-head slopes of ALiBi (Press et al. 2022, reference implementation).

    For n a power of two: the geometric sequence 2^(-8/n), 2^(-16/n), ..., 2^(-8).
    Otherwise: the slopes of the closest smaller power of two m, then every other slope
    of 2m for the remaining n - m heads.
    """
    if n_head & (n_head - 1) == 0:  # power of two
        start = 2.0 ** (-8.0 / n_head)
        return [start ** (i + 1) for i in range(n_head)]
    closest = 2 ** math.floor(math.log2(n_head))
    return alibi_slopes(closest) + alibi_slopes(2 * closest)[0::2][: n_head - closest]


class ALiBiPosition(NoPosition):
    """ALiBi: add -slope_h * (i - j) to the score of query i and key j (no embeddings)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        slopes = torch.tensor(alibi_slopes(cfg.n_head), dtype=torch.float32)
        self.register_buffer("slopes", slopes, persistent=False)

    def bias(self, T: int) -> torch.Tensor:
        pos = torch.arange(T, device=self.slopes.device)
        distance = (pos[:, None] - pos[None, :]).float()  # i - j, > 0 for past keys
        return -self.slopes[:, None, None] * distance  # (H, T, T)
