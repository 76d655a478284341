"""What each model variant says about itself, without importing torch.

A registry entry (``ablate.spec.registry``) is one of these small records: the nn.Module it
builds (``module``, imported only when a model is built) and the facts the rest of the lab
asks about it instead of comparing its name: the parameters it adds, the constraints it
imposes on the config, whether it adds a score bias, how long a sequence it can take, what
it costs in FLOPs. ``params.py``, ``constraints.py``, ``transformer.py`` and the DAG layer
read these fields, so a new variant is one class and one registry line.

Every field has a default that means "adds nothing, constrains nothing", so an entry
states only what is special about its variant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ablate.spec.config import ModelConfig

Check = Callable[[ModelConfig], list[str]]  # one message per problem, naming key and value


def no_errors(cfg: ModelConfig) -> list[str]:
    return []


def no_params(cfg: ModelConfig) -> int:
    return 0


def any_length(cfg: ModelConfig) -> int | None:
    return None


def linear_params(cfg: ModelConfig, n_in: int, n_out: int) -> int:
    """An nn.Linear(n_in, n_out) with the config's bias setting."""
    return n_in * n_out + (n_out if cfg.bias else 0)


def all_heads(cfg: ModelConfig) -> int:
    """Key/value heads of multi-head attention: one per query head."""
    return cfg.n_head


def given_kv_heads(cfg: ModelConfig) -> int:
    """GQA: the model.n_kv_head it is given (its check asks for one), else one per head."""
    return all_heads(cfg) if cfg.n_kv_head is None else cfg.n_kv_head


def keys_in_window(cfg: ModelConfig, seq_len: int) -> int:
    """Keys a query attends to in softmax attention: every earlier one, or a window of them."""
    return seq_len if cfg.window is None else min(seq_len, cfg.window)


@dataclass(frozen=True)
class Position:
    """A positional encoding. One instance is shared by all layers."""

    module: str  # "package.module:Class", resolved lazily
    params: Callable[[ModelConfig], int] = no_params  # parameters the module holds
    # Its parameters are a table looked up by position, like the token table: counted as
    # embedding (left out of N, Kaplan et al. 2020). Either way they start N(0, init_std).
    embedding: bool = False
    max_len: Callable[[ModelConfig], int | None] = any_length  # longest sequence; None: any
    score_bias: bool = False  # adds a bias to the (T, T) attention scores (needs them)
    check: Check = no_errors


@dataclass(frozen=True)
class Attention:
    """An attention mechanism. All share the q/k/v and output projections of
    ``attention.CausalSelfAttention``, so their parameters follow from ``kv_heads``."""

    module: str
    kv_heads: Callable[[ModelConfig], int] = all_heads  # key/value heads
    # Forms the (T, T) score matrix: only then can a position add a score bias to it, or a
    # window mask keys out of it.
    score_matrix: bool = True
    # n_ctx of the FLOPs formula (params.flops_per_token): keys each query's q.k and the
    # weighted sum of v are computed over, per channel
    n_ctx: Callable[[ModelConfig, int], int] = keys_in_window
    params: Callable[[ModelConfig], int] = no_params  # beyond the shared projections
    softmax: bool = True  # weights are a softmax over keys: model.softmax_one applies
    check: Check = no_errors


@dataclass(frozen=True)
class Norm:
    """A normalisation layer over ``dim`` channels."""

    module: str
    params: Callable[[ModelConfig, int], int] = lambda cfg, dim: dim  # a gain per channel
    check: Check = no_errors


@dataclass(frozen=True)
class Placement:
    """Where a block's norms sit."""

    module: str
    final_norm: bool = True  # the residual stream ends un-normalised: a final norm follows
    check: Check = no_errors


@dataclass(frozen=True)
class FFN:
    """A position-wise feed-forward sub-layer: ``inputs`` projections d_model -> hidden
    (2 for a gated unit), one projection back."""

    module: str
    hidden: Callable[[ModelConfig], int] = lambda cfg: cfg.ffn_hidden
    inputs: int = 1
    present: bool = True  # False: an attention-only block, no sub-layer and no norm for it
    check: Check = no_errors


def standard_width(cfg: ModelConfig) -> float:
    return 1.0


def mup_width(cfg: ModelConfig) -> float:
    """muP's width multiplier: how many times the base width this model is."""
    return cfg.d_model / cfg.mup_base_width


@dataclass(frozen=True)
class Parametrization:
    """How init, learning rates and two multipliers depend on width (Yang et al. 2022,
    "Tensor Programs V", the Adam column of their Table 3), through one number, the width
    multiplier m (1 for the standard parametrization):

        hidden matrices (every nn.Linear of a block)   init std / sqrt(m), Adam lr / m
        output logits                                   x 1/m (tied head: the table's lr)
        attention scores                                q.k / (sqrt(d_head) * sqrt(m)),
                                                        i.e. 1/d_head scaling across widths
        embeddings, position tables, gains, biases      unchanged

    At m = 1 every factor is exactly 1, so muP at its base width is SP, bit for bit."""

    width_mult: Callable[[ModelConfig], float] = standard_width
    module: None = None  # a plain option: the model and optimizer read width_mult
    check: Check = no_errors


# ---------------------------------------------------------------- what some variants need


def even_heads(cfg: ModelConfig) -> list[str]:
    """Differential attention takes its heads in pairs."""
    if cfg.n_head % 2:
        return [f"model.attention={cfg.attention} pairs heads: model.n_head={cfg.n_head} is odd"]
    return []


def mup_errors(cfg: ModelConfig) -> list[str]:
    if cfg.mup_base_width is None:
        return [
            "model.parametrization=mup needs model.mup_base_width (the width at which "
            "muP equals SP, e.g. the width the learning rate was tuned at)"
        ]
    return []


def sp_errors(cfg: ModelConfig) -> list[str]:
    if cfg.mup_base_width is not None:
        return [
            f"model.mup_base_width={cfg.mup_base_width} is only read by "
            "model.parametrization=mup (this run is sp)"
        ]
    return []


def gqa_errors(cfg: ModelConfig) -> list[str]:
    if cfg.n_kv_head is None:
        return [f"model.attention={cfg.attention} needs model.n_kv_head (key/value heads)"]
    if cfg.n_head % cfg.n_kv_head != 0:
        return [f"model.n_kv_head={cfg.n_kv_head} must divide model.n_head={cfg.n_head}"]
    return []


def even_head_size(cfg: ModelConfig) -> list[str]:
    """Rotations turn pairs of channels."""
    if cfg.d_model % cfg.n_head == 0 and cfg.head_dim % 2 != 0:
        return [
            f"model.pos={cfg.pos} needs an even head size; model.d_model={cfg.d_model} / "
            f"model.n_head={cfg.n_head} = {cfg.head_dim}"
        ]
    return []


def swiglu_hidden(cfg: ModelConfig) -> int:
    """SwiGLU has three matrices; with ffn_match_params its width is 2/3 of the MLP's so the
    parameter count matches a 2-matrix MLP of width ffn_hidden (Shazeer 2020)."""
    if cfg.ffn_match_params:
        return int(round(2 * cfg.ffn_hidden / 3))
    return cfg.ffn_hidden
