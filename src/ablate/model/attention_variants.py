"""Attention mechanisms beyond softmax over one map: sigmoid attention and differential
attention. Both share the q/k/v and output projections of ``CausalSelfAttention`` and are
written out in full (no fused kernel computes either).

sigmoid (Ramapuram et al. 2024, "Theory, Analysis, and Best Practices for Sigmoid
Self-Attention"): each weight is sigma(q.k / sqrt(d) + bias - log T) on its own, with no
normalisation across keys. The bias -log T (T the sequence length) is what they found
necessary: it starts the weights near 1/T, so a row's total mass starts near softmax's 1
instead of T/2. Their other stabilisers (hybrid norm, LayerScale) are not part of it here;
qk-norm (``model.qk_norm``) combines with it.

differential (Ye et al. 2024, "Differential Transformer"): heads are taken in pairs; the
pair's two softmax maps A1, A2 (each over head_dim channels of q and k) are subtracted,

    DiffAttn = (A1 - lambda A2) [v1; v2],  lambda = exp(lq1 . lk1) - exp(lq2 . lk2) + LAMBDA_INIT

and each pair's output (2 head_dim channels) is RMS-normalised and scaled by
(1 - LAMBDA_INIT). With n_head heads of head_dim this is n_head / 2 differential heads of
twice the size, the paper's matching of parameters: the same projections as multi-head
attention, plus the four lambda vectors and the pair norm's gain (6 head_dim per layer).
The paper's lambda_init depends on the layer (0.8 - 0.6 exp(-0.3 (l - 1))); a module here
does not know its layer, so it is their constant 0.8. The probes see each pair's two softmax
maps as two heads.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ablate.model.attention import AttentionMask, CausalSelfAttention
from ablate.model.norm import RMSNorm
from ablate.spec.config import ModelConfig

EPS = 1e-9


class SigmoidAttention(CausalSelfAttention):
    def forward(
        self, x: torch.Tensor, pos, mask: AttentionMask, capture: dict | None = None
    ) -> torch.Tensor:
        q, k, v = self.heads(x, pos)
        scores = self.scores(q, k, mask, capture)  # (B, H, T, T)
        hidden = ~mask.visible
        weights = torch.sigmoid(scores - math.log(scores.shape[-1])).masked_fill(hidden, 0.0)
        if capture is not None:  # where each row's mass goes, as a distribution
            total = weights.sum(-1, keepdim=True).clamp_min(EPS)
            capture["attn_probs"].append((weights / total).detach())
        dropout = self.dropout if self.training else 0.0
        return self.merge(F.dropout(weights, dropout, self.training).to(v.dtype) @ v)


class DifferentialAttention(CausalSelfAttention):
    LAMBDA_INIT = 0.8

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        d = self.head_dim
        self.lambdas = nn.Parameter(torch.zeros(4, d))  # lq1, lk1, lq2, lk2
        self.pair_norm = RMSNorm(2 * d)

    def init_parameters(self, std: float, generator: torch.Generator | None) -> None:
        """The lambda vectors start N(0, 0.1), as in the paper (at 0 they could not move:
        the gradient of exp(lq . lk) in lq is lk)."""
        nn.init.normal_(self.lambdas, 0.0, 0.1, generator=generator)

    def lam(self) -> torch.Tensor:
        lq1, lk1, lq2, lk2 = self.lambdas
        return torch.exp((lq1 * lk1).sum()) - torch.exp((lq2 * lk2).sum()) + self.LAMBDA_INIT

    def forward(
        self, x: torch.Tensor, pos, mask: AttentionMask, capture: dict | None = None
    ) -> torch.Tensor:
        q, k, v = self.heads(x, pos)  # (B, H, T, d), H even
        B, H, T, d = q.shape
        scores = self.scores(q, k, mask, capture)  # (B, H, T, T): A1, A2 alternate
        probs = scores.masked_fill(~mask.visible, float("-inf")).softmax(dim=-1)
        if capture is not None:
            capture["attn_probs"].append(probs.detach())
        pairs = probs.view(B, H // 2, 2, T, T)
        diff = pairs[:, :, 0] - self.lam().to(probs.dtype) * pairs[:, :, 1]
        dropout = self.dropout if self.training else 0.0
        values = v.view(B, H // 2, 2, T, d).transpose(2, 3).reshape(B, H // 2, T, 2 * d)
        y = F.dropout(diff, dropout, self.training).to(v.dtype) @ values  # (B, H/2, T, 2d)
        y = self.pair_norm(y) * (1 - self.LAMBDA_INIT)
        return self.merge(y)  # (B, T, H/2 * 2d) = (B, T, C)
