"""Causal linear attention (Katharopoulos et al. 2020, "Transformers are RNNs").

Replace softmax(q . k) by phi(q) . phi(k) with the positive feature map phi = elu + 1:

    y_i = phi(q_i)^T S_i / (phi(q_i)^T z_i),   S_i = sum_{j<=i} phi(k_j) v_j^T,
                                               z_i = sum_{j<=i} phi(k_j)

The running sums S_i, z_i make it O(T) in sequence length (the form used for training,
here with cumsum); the quadratic form builds the (T, T) weight matrix phi(q) phi(k)^T,
masks it causally and normalises its rows: the same numbers, used by the probe path so
the weights can be recorded. A test checks the two agree.

There is no score matrix in the O(T) form, so no ALiBi bias and no window mask; the
constructor refuses both. RoPE is applied to q, k before phi, which keeps weights positive.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ablate.config import ModelConfig
from ablate.model.attention import AttentionMask, CausalSelfAttention
from ablate.model.constraints import check_model_config

EPS = 1e-6  # keeps the normaliser away from 0 if phi underflows (elu + 1 = exp(x) for x < 0)


def feature_map(x: torch.Tensor) -> torch.Tensor:
    return F.elu(x) + 1.0


def linear_attention_recurrent(q, k, v):
    """O(T) form. q, k, v (B, H, T, d) -> (B, H, T, d) via running sums over positions.

    Computed in float32: a bf16 running sum over T positions would lose the small terms.
    """
    dtype = v.dtype
    fq, fk, v = feature_map(q.float()), feature_map(k.float()), v.float()
    S = torch.einsum("bhtd,bhte->bhtde", fk, v).cumsum(dim=2)  # (B, H, T, d, d)
    z = fk.cumsum(dim=2)  # (B, H, T, d)
    num = torch.einsum("bhtd,bhtde->bhte", fq, S)
    den = (fq * z).sum(-1, keepdim=True)
    return (num / den.clamp_min(EPS)).to(dtype)


def linear_attention_weights(q, k) -> torch.Tensor:
    """Quadratic form: (B, H, T, T) causal weights, rows normalised to sum to 1."""
    T = q.shape[-2]
    w = feature_map(q) @ feature_map(k).transpose(-2, -1)
    causal = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
    w = w.masked_fill(~causal, 0.0)
    return w / w.sum(-1, keepdim=True).clamp_min(EPS)


class LinearAttention(CausalSelfAttention):
    def __init__(self, cfg: ModelConfig):
        bad = [e for e in check_model_config(cfg) if e.startswith("model.attention=linear")]
        if bad:
            raise ValueError("; ".join(bad))
        super().__init__(cfg)

    def forward(
        self, x: torch.Tensor, pos, mask: AttentionMask, capture: dict | None = None
    ) -> torch.Tensor:
        q, k, v = self.heads(x, pos)
        if capture is None:
            y = linear_attention_recurrent(q, k, v)
        else:
            weights = linear_attention_weights(q, k)
            capture["attn_probs"].append(weights.detach())
            # no softmax, so no logits to report
            capture["attn_logit_max"].append(
                torch.full((self.n_head,), float("nan"), device=x.device)
            )
            y = weights @ v
        return self.merge(y)
