"""Attention statistics on the probe batch: entropy (collapse) and logit growth.

Normalised entropy of a query row i: H(A_i) / log(k_i), where k_i is the number of keys
row i may see (causal, and the window if any). Uniform attention over the visible keys
gives 1, one-hot attention gives 0, whatever the position; rows with a single visible key
carry no information and are left out (Zhai et al. 2023 average over queries, heads and
examples; we keep heads apart).
"""

from __future__ import annotations

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
