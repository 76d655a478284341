"""Positional information, one class per scheme, all with the same three hooks.

A position module may act at three places, and does nothing (returns None / its input)
where it has nothing to say, so every scheme composes with every attention mechanism:

    embed(T)      (T, C) added to the token embeddings        learned, sinusoidal
    rotate(q, k)  q, k rotated by position before the scores  rope, xpos
    bias(T)       (H, T, T) added to the attention scores      alibi, t5, fire

One instance is shared by all layers (no scheme here has per-layer parameters). Its
parameters start N(0, init_std) unless it has ``init_parameters(std, generator)``. What the
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


class T5Position(NoPosition):
    """T5's relative bias (Raffel et al. 2020): a learned scalar per head and distance
    bucket, added to the scores. Causal, so the distance i - j >= 0: distances below
    BUCKETS/2 get a bucket each, longer ones share log-spaced buckets up to MAX_DISTANCE,
    and everything beyond falls in the last bucket, so any length works. One table is
    shared by all layers, as in T5."""

    BUCKETS, MAX_DISTANCE = 32, 128

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.table = nn.Parameter(torch.zeros(self.BUCKETS, cfg.n_head))

    @classmethod
    def bucket(cls, distance: torch.Tensor) -> torch.Tensor:
        exact = cls.BUCKETS // 2
        far = distance.clamp_min(1).float()
        log_bucket = (
            exact
            + (
                torch.log(far / exact) / math.log(cls.MAX_DISTANCE / exact) * (cls.BUCKETS - exact)
            ).long()
        )
        return torch.where(distance < exact, distance, log_bucket.clamp_max(cls.BUCKETS - 1))

    def bias(self, T: int) -> torch.Tensor:
        pos = torch.arange(T, device=self.table.device)
        distance = (pos[:, None] - pos[None, :]).clamp_min(0)  # future keys are masked anyway
        return self.table[self.bucket(distance)].permute(2, 0, 1)  # (H, T, T)


class XPosPosition(RotaryPosition):
    """xPos (Sun et al. 2022, "A Length-Extrapolatable Transformer"): RoPE whose channel
    pair i also scales q by zeta_i^(n/B) and k by zeta_i^(-m/B), so the score of query n and
    key m decays as zeta_i^((n-m)/B) with distance, zeta_i = (i/(d/2) + GAMMA) / (1 + GAMMA).
    Positions are centred on T/2 before scaling (the offset cancels in q.k) to keep the
    factors near 1; GAMMA and the scale base B are the paper's 0.4 and 512."""

    GAMMA, SCALE_BASE = 0.4, 512.0

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        half = cfg.head_dim // 2
        zeta = (torch.arange(half, dtype=torch.float32) / half + self.GAMMA) / (1 + self.GAMMA)
        self.register_buffer("zeta", torch.cat([zeta, zeta]), persistent=False)

    def rotate(self, q: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        T = q.shape[-2]
        cos, sin = self.cos_sin(T)
        pos = torch.arange(T, dtype=torch.float32, device=self.zeta.device) - T // 2
        scale = self.zeta ** (pos[:, None] / self.SCALE_BASE)  # (T, d)
        q = _rotate(q, cos, sin) * scale.to(q.dtype)
        k = _rotate(k, cos, sin) / scale.to(k.dtype)
        return q, k


class FirePosition(NoPosition):
    """FIRE (Li et al. 2023, "Functional Interpolation for Relative Positions Improves Long
    Context Transformers"): a learned function of the normalised distance as score bias,

        b_h(i, j) = f(psi(i - j) / psi(max(L, i)))_h,   psi(x) = log(c x + 1)

    f an MLP 1 -> HIDDEN -> n_head (ReLU), c > 0 and the threshold L learned. Dividing by
    psi(i) maps every query's distances into [0, 1], so a longer sequence reuses the range
    the model was trained on. One module for all layers; c starts at 1 and L at the
    model's context (kept positive through softplus)."""

    HIDDEN = 32

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.mlp = nn.Sequential(
            nn.Linear(1, self.HIDDEN), nn.ReLU(), nn.Linear(self.HIDDEN, cfg.n_head)
        )
        self.raw_c = nn.Parameter(torch.zeros(()))
        self.raw_L = nn.Parameter(torch.zeros(()))
        self.context = cfg.context

    def init_parameters(self, std: float, generator: torch.Generator | None) -> None:
        for layer in (self.mlp[0], self.mlp[2]):
            nn.init.normal_(layer.weight, 0.0, std, generator=generator)
            nn.init.zeros_(layer.bias)
        with torch.no_grad():  # softplus^-1: c = 1, L = context
            self.raw_c.fill_(math.log(math.expm1(1.0)))
            self.raw_L.fill_(self.context + math.log(-math.expm1(-self.context)))

    def bias(self, T: int) -> torch.Tensor:
        c, L = nn.functional.softplus(self.raw_c), nn.functional.softplus(self.raw_L)
        pos = torch.arange(T, dtype=torch.float32, device=self.raw_c.device)
        distance = (pos[:, None] - pos[None, :]).clamp_min(0)

        def psi(x):
            return torch.log1p(c * x)

        normalised = psi(distance) / psi(torch.maximum(L, pos))[:, None]  # (T, T) in [0, 1]
        return self.mlp(normalised[..., None]).permute(2, 0, 1)  # (H, T, T)
