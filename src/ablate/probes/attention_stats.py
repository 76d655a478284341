"""Attention statistics on the probe batch: entropy (collapse), logit growth, attention
sinks and massive activations.

Normalised entropy of a query row i: H(A_i) / log(k_i), where k_i is the number of keys
row i may see (causal, and the window if any). Uniform attention over the visible keys
gives 1, one-hot attention gives 0, whatever the position; rows with a single visible key
carry no information and are left out (Zhai et al. 2023 average over queries, heads and
examples; we keep heads apart).

Attention sink (Xiao et al. 2023, "Efficient Streaming Language Models with Attention
Sinks"): the mean attention mass a head puts on the first position, over examples and the
queries after it (query 0 sees only itself). Massive activations (Sun et al. 2024,
"Massive Activations in Large Language Models"): per layer, max |h| / median |h| over every
entry of the residual stream after the layer; a few entries thousands of times the median
are the signature they describe.
"""

from __future__ import annotations

import math

import torch


def normalized_entropy(probs: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
    """probs (B, H, T, T), visible (T, T) bool -> (H,) mean normalised entropy per head."""
    n_keys = visible.sum(-1).to(probs.dtype)  # (T,)
    rows = n_keys > 1
    p = probs.float().clamp_min(0)
    plogp = torch.where(p > 0, p * p.log(), torch.zeros_like(p))
    ent = -plogp.sum(-1)  # (B, H, T)
    norm = ent[..., rows] / n_keys[rows].log()
    return norm.mean(dim=(0, 2))


def sink_mass(probs: torch.Tensor) -> torch.Tensor:
    """probs (B, H, T, T) -> (H,) mean weight on key 0 over examples and queries 1..T-1."""
    if probs.shape[-2] < 2:
        return torch.full(probs.shape[1:2], float("nan"))
    return probs[:, :, 1:, 0].float().mean(dim=(0, 2))


def massive_ratio(resid: torch.Tensor) -> float:
    """resid (B, T, C) -> max |h| / median |h| over all its entries."""
    a = resid.detach().float().abs().flatten()
    median = float(a.median())
    return float(a.max()) / median if median > 0 else math.inf


def attention_rows(capture: dict, step: int) -> list[dict]:
    """Per layer x head probe rows (long format, tables.TABLES['probes'])."""
    rows = []
    visible = capture["visible"]
    for layer, (probs, logit_max) in enumerate(
        zip(capture["attn_probs"], capture["attn_logit_max"], strict=True)
    ):
        entropy = normalized_entropy(probs, visible)
        for head in range(entropy.numel()):
            e = float(entropy[head])
            rows += [
                probe_row(step, layer, head, "attn_entropy", e),
                probe_row(step, layer, head, "attn_logit_max", float(logit_max[head])),
            ]
    return rows


def attention_map_rows(capture: dict, max_len: int = 64) -> list[dict]:
    """The first probe sequence's attention maps, every layer and head, at most max_len^2."""
    rows = []
    for layer, probs in enumerate(capture["attn_probs"]):
        a = probs[0, :, :max_len, :max_len].float()
        H, T, _ = a.shape
        q, k = torch.tril_indices(T, T)  # causal: only the lower triangle can be non-zero
        for head in range(H):
            w = a[head, q, k].tolist()
            rows += [
                {"layer": layer, "head": head, "query": int(i), "key": int(j), "weight": x}
                for i, j, x in zip(q.tolist(), k.tolist(), w, strict=True)
            ]
    return rows


def probe_row(step: int, layer: int, head: int, metric: str, value: float) -> dict:
    """One row of the probes table (tables.TABLES['probes']); head -1 for layer-level."""
    return {"step": step, "layer": layer, "head": head, "metric": metric, "value": value}
