"""Parameter count and training FLOPs from the config alone, by formula (torch-free).

The DAG and the analysis can size a model without building it; a test checks the formula
against sum(p.numel()) of the built model for every registered variant, so the two cannot
drift apart. What a variant adds (a position table, a gated FFN, a cheaper attention) comes
from its traits in ``ablate.spec.registry``.
"""

from __future__ import annotations

from ablate.spec.config import ModelConfig
from ablate.spec.model_traits import linear_params
from ablate.spec.registry import ATTENTION, FFN, NORM, NORM_PLACEMENT, POSITION


def _norm(cfg: ModelConfig, dim: int) -> int:
    return NORM[cfg.norm].params(cfg, dim)


def block_params(cfg: ModelConfig) -> dict[str, int]:
    """Parameters of one block by kind: attention, ffn, norm."""
    C, d = cfg.d_model, cfg.head_dim
    q_dim, kv_dim = cfg.n_head * d, ATTENTION[cfg.attention].kv_heads(cfg) * d
    attention = linear_params(cfg, C, q_dim + 2 * kv_dim) + linear_params(cfg, q_dim, C)
    attention += ATTENTION[cfg.attention].params(cfg)
    if cfg.qk_norm:
        attention += 2 * d  # RMSNorm gains over head_dim for q and for k
    ffn = FFN[cfg.ffn]
    if not ffn.present:  # attention-only: no FFN sub-layer, so no second norm either
        return {"attention": attention, "ffn": 0, "norm": _norm(cfg, C)}
    h = ffn.hidden(cfg)
    ffn_params = ffn.inputs * linear_params(cfg, C, h) + linear_params(cfg, h, C)
    return {"attention": attention, "ffn": ffn_params, "norm": 2 * _norm(cfg, C)}


def count_params(cfg: ModelConfig) -> dict[str, int]:
    """{"total": ..., "non_embedding": ...} as Transformer.n_params would report them.

    Non-embedding leaves out the token table, a position table (a position whose traits
    say ``embedding``) and an untied head. A placement that ends normalised (post-norm)
    has no final norm.
    """
    C, V = cfg.d_model, cfg.vocab_size
    pos = POSITION[cfg.pos]
    final_norm = _norm(cfg, C) if NORM_PLACEMENT[cfg.norm_placement].final_norm else 0
    non_embedding = cfg.n_layer * sum(block_params(cfg).values()) + final_norm
    embedding = V * C
    if pos.embedding:
        embedding += pos.params(cfg)
    else:
        non_embedding += pos.params(cfg)
    head = 0 if cfg.tie_head else V * C
    return {"total": non_embedding + embedding + head, "non_embedding": non_embedding}


def flops_per_token(cfg: ModelConfig, seq_len: int) -> float:
    """Training FLOPs per token, Kaplan et al. 2020 (their Table 1), times 3 for fwd + bwd:

        6 * N_non_embedding  +  6 * n_layer * n_ctx * d_attn

    where the second term is the q.k scores and the weighted sum of v (2 * n_ctx * d_attn
    multiply-adds forward per layer). n_ctx is what the attention's traits say: the keys a
    query attends to for softmax attention, taken as seq_len as in Kaplan (not halved for
    the causal mask) and capped by a sliding window; about head_dim per channel for linear
    attention's running sums. Embedding lookups and the LM head are left out, as in
    Kaplan's C = 6N.
    """
    n_ctx = ATTENTION[cfg.attention].n_ctx(cfg, seq_len)
    d_attn = cfg.n_head * cfg.head_dim
    return 6.0 * count_params(cfg)["non_embedding"] + 6.0 * cfg.n_layer * n_ctx * d_attn
