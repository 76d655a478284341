"""Parameter count and training FLOPs from the config alone, by formula (torch-free).

The DAG and the analysis can size a model without building it; a test checks the formula
against sum(p.numel()) of the built model for every registered variant, so the two cannot
drift apart.
"""

from __future__ import annotations

from ablate.config import ModelConfig


def _norm(cfg: ModelConfig, dim: int) -> int:
    """LayerNorm: gain (+ bias if cfg.bias); RMSNorm: gain only."""
    return dim * (2 if cfg.norm == "layernorm" and cfg.bias else 1)


def _linear(cfg: ModelConfig, n_in: int, n_out: int) -> int:
    return n_in * n_out + (n_out if cfg.bias else 0)


def ffn_width(cfg: ModelConfig) -> int:
    """Hidden width of the FFN (SwiGLU with ffn_match_params: 2/3 of ffn_hidden)."""
    if cfg.ffn == "swiglu" and cfg.ffn_match_params:
        return int(round(2 * cfg.ffn_hidden / 3))
    return cfg.ffn_hidden


def block_params(cfg: ModelConfig) -> dict[str, int]:
    """Parameters of one block by kind: attention, ffn, norm."""
    C, d = cfg.d_model, cfg.head_dim
    q_dim, kv_dim = cfg.n_head * d, cfg.kv_heads * d
    attention = _linear(cfg, C, q_dim + 2 * kv_dim) + _linear(cfg, q_dim, C)
    if cfg.qk_norm:
        attention += 2 * d  # RMSNorm gains over head_dim for q and for k
    if cfg.ffn == "none":  # attention-only: no FFN sub-layer, so no second norm either
        return {"attention": attention, "ffn": 0, "norm": _norm(cfg, C)}
    h = ffn_width(cfg)
    n_in = 2 if cfg.ffn == "swiglu" else 1  # SwiGLU has a gate and an up projection
    ffn = n_in * _linear(cfg, C, h) + _linear(cfg, h, C)
    return {"attention": attention, "ffn": ffn, "norm": 2 * _norm(cfg, C)}


def count_params(cfg: ModelConfig) -> dict[str, int]:
    """{"total": ..., "non_embedding": ...} as Transformer.n_params would report them.

    Non-embedding leaves out the token table, a learned position table and an untied
    head. Post-norm blocks end normalised, so that model has no final norm.
    """
    C, V = cfg.d_model, cfg.vocab_size
    per_block = sum(block_params(cfg).values())
    final_norm = _norm(cfg, C) if cfg.norm_placement == "pre" else 0
    non_embedding = cfg.n_layer * per_block + final_norm
    embedding = V * C + (cfg.context * C if cfg.pos == "learned" else 0)
    head = 0 if cfg.tie_head else V * C
    return {"total": non_embedding + embedding + head, "non_embedding": non_embedding}


def flops_per_token(cfg: ModelConfig, seq_len: int) -> float:
    """Training FLOPs per token, Kaplan et al. 2020 (their Table 1), times 3 for fwd + bwd:

        6 * N_non_embedding  +  6 * n_layer * n_ctx * d_attn

    where the second term is the q.k scores and the weighted sum of v (2 * n_ctx * d_attn
    multiply-adds forward per layer). n_ctx is the number of keys a query attends to, taken
    as seq_len as in Kaplan (not halved for the causal mask); a sliding window caps it at
    ``window``; linear attention's running sums cost about head_dim per channel instead.
    Embedding lookups and the LM head are left out, as in Kaplan's C = 6N.
    """
    n_ctx = seq_len
    if cfg.window is not None:
        n_ctx = min(seq_len, cfg.window)
    if cfg.attention == "linear":
        n_ctx = cfg.head_dim
    d_attn = cfg.n_head * cfg.head_dim
    return 6.0 * count_params(cfg)["non_embedding"] + 6.0 * cfg.n_layer * n_ctx * d_attn
