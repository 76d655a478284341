"""Causal softmax self-attention: MHA, GQA and MQA in one class, plus the mask they share.

GQA (Ainslie et al. 2023) lets groups of query heads share one key/value head; MHA is the
case n_kv_head = n_head and MQA (Shazeer 2019) the case n_kv_head = 1, so all three are the
same code with a different number of key/value heads (``ATTENTION[name].kv_heads``).

Two paths compute the same thing: the hot path calls F.scaled_dot_product_attention (fused,
never materialises the probabilities when it can avoid it); the probe path (``capture``
given) writes the softmax out by hand so the probabilities and the pre-softmax logits can
be recorded. bf16 on CPU also takes the written-out path: it is the faster one there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ablate.model.norm import RMSNorm
from ablate.spec.config import ModelConfig
from ablate.spec.registry import ATTENTION, PARAMETRIZATION


@dataclass
class AttentionMask:
    """Which keys each query sees, and an optional additive score bias, for one length T.

    visible  (T, T) bool: causal, and inside the window if there is one
    bias     (H, T, T) float or None: ALiBi's distance penalty
    sdpa     what F.scaled_dot_product_attention takes as attn_mask: None when plain causal
             (then its is_causal fast path is used), else a bool or float mask
    """

    visible: torch.Tensor
    bias: torch.Tensor | None
    sdpa: torch.Tensor | None

    @classmethod
    def build(
        cls, T: int, window: int | None, bias: torch.Tensor | None, device=None
    ) -> AttentionMask:
        i = torch.arange(T, device=device)[:, None]
        j = torch.arange(T, device=device)[None, :]
        visible = j <= i
        if window is not None:
            visible = visible & (j > i - window)  # i - window < j <= i
        if bias is not None:
            sdpa = bias.masked_fill(~visible, float("-inf"))
        elif window is not None:
            sdpa = visible
        else:
            sdpa = None
        return cls(visible=visible, bias=bias, sdpa=sdpa)


class CausalSelfAttention(nn.Module):
    """Shared projections: one matrix for q, k, v, then the output projection."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        kv_heads = ATTENTION[cfg.attention].kv_heads(cfg)
        self.n_head, self.n_kv_head, self.head_dim = cfg.n_head, kv_heads, cfg.head_dim
        q_dim, kv_dim = self.n_head * self.head_dim, self.n_kv_head * self.head_dim
        self.qkv = nn.Linear(cfg.d_model, q_dim + 2 * kv_dim, bias=cfg.bias)
        self.proj = nn.Linear(q_dim, cfg.d_model, bias=cfg.bias)
        self.proj.is_residual_output = True  # scaled init, see Transformer._init_weights
        # qk-norm (Wortsman et al. 2023): RMSNorm over each head's channels, one gain vector
        # shared by all heads, bounds |q . k| and so keeps attention logits from growing.
        self.q_norm = RMSNorm(self.head_dim) if cfg.qk_norm else None
        self.k_norm = RMSNorm(self.head_dim) if cfg.qk_norm else None
        self.dropout = cfg.dropout
        self.resid_dropout = nn.Dropout(cfg.dropout)
        # q.k is divided by sqrt(d_head); under muP also by sqrt(width_mult), which with the
        # head count fixed is 1/d_head scaling across widths (Yang et al. 2022), equal to
        # SP's at the base width
        width_mult = PARAMETRIZATION[cfg.parametrization].width_mult(cfg)
        self.score_div = math.sqrt(self.head_dim) * math.sqrt(width_mult)
        self.softmax_one = cfg.softmax_one

    def heads(self, x: torch.Tensor, pos) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, T, C) -> q (B, H, T, d), k and v (B, H_kv, T, d), normalised and rotated."""
        B, T, _ = x.shape
        q_dim, kv_dim = self.n_head * self.head_dim, self.n_kv_head * self.head_dim
        q, k, v = self.qkv(x).split([q_dim, kv_dim, kv_dim], dim=-1)
        q = q.view(B, T, self.n_head, self.head_dim).transpose(1, 2)
        k = k.view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)
        v = v.view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = pos.rotate(q, k)
        return q, k, v

    def scores(self, q, k, mask: AttentionMask, capture: dict | None) -> torch.Tensor:
        """q.k / score_div plus the position's bias, (B, H, T, T), hidden keys not yet
        masked; records each head's max logit (before the bias) if asked."""
        scores = (q @ k.transpose(-2, -1)) / self.score_div
        if capture is not None:
            logit_max = scores.detach().float().masked_fill(~mask.visible, float("-inf"))
            capture["attn_logit_max"].append(logit_max.amax((0, 2, 3)))
        if mask.bias is not None:
            scores = scores + mask.bias.to(scores.dtype)
        return scores

    def merge(self, y: torch.Tensor) -> torch.Tensor:
        """y (B, H, T, d) -> (B, T, C) through the output projection."""
        B, H, T, d = y.shape
        y = y.transpose(1, 2).reshape(B, T, H * d)
        return self.resid_dropout(self.proj(y))


class MultiHeadAttention(CausalSelfAttention):
    """softmax(q k^T / score_div + bias, masked) v, with H_kv <= H key/value heads
    (score_div = sqrt(d) under SP)."""

    def forward(
        self, x: torch.Tensor, pos, mask: AttentionMask, capture: dict | None = None
    ) -> torch.Tensor:
        q, k, v = self.heads(x, pos)
        if self.n_kv_head != self.n_head:  # each kv head serves H / H_kv query heads
            repeat = self.n_head // self.n_kv_head
            k = k.repeat_interleave(repeat, dim=1)
            v = v.repeat_interleave(repeat, dim=1)
        dropout = self.dropout if self.training else 0.0
        # torch's CPU flash-attention backward is ~6x slower in bf16 than in fp32 at these
        # sizes, and the written-out softmax ~2x faster than it (bench/bench_axes.py): under
        # CPU autocast the explicit path is the fast one.
        cpu_bf16 = q.device.type == "cpu" and q.dtype == torch.bfloat16
        if capture is None and not cpu_bf16 and not self.softmax_one:
            attn_mask = mask.sdpa
            if attn_mask is not None and attn_mask.is_floating_point():
                attn_mask = attn_mask.to(q.dtype)  # bf16 under autocast
            y = F.scaled_dot_product_attention(
                q,
                k,
                v,
                attn_mask=attn_mask,
                dropout_p=dropout,
                is_causal=attn_mask is None,
                scale=1.0 / self.score_div,
            )
        else:
            y = self.explicit(q, k, v, mask, dropout, capture)
        return self.merge(y)

    def explicit(self, q, k, v, mask: AttentionMask, dropout: float, capture: dict | None):
        """The same attention written out; records probabilities and max logits if asked."""
        scores = self.scores(q, k, mask, capture).masked_fill(~mask.visible, float("-inf"))
        if self.softmax_one:  # a zero logit beside the keys: exp(s_j) / (1 + sum exp(s))
            zero = scores.new_zeros(scores.shape[:-1] + (1,))
            probs = torch.cat([scores, zero], dim=-1).softmax(dim=-1)[..., :-1]
        else:
            probs = scores.softmax(dim=-1)
        if capture is not None:
            capture["attn_probs"].append(probs.detach())
        return F.dropout(probs, dropout, self.training).to(v.dtype) @ v
