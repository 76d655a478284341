"""What each model variant says about itself, without importing torch.

A registry entry (``ablate.registry``) is one of these small records: the nn.Module it
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
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: ablate.config imports the registry, which imports this
    from ablate.config import ModelConfig

Check = Callable[["ModelConfig"], list[str]]  # one message per problem, naming key and value


def no_errors(cfg: ModelConfig) -> list[str]:
    return []


def no_params(cfg: ModelConfig) -> int:
    return 0


def any_length(cfg: ModelConfig) -> int | None:
    return None


def linear_params(cfg: ModelConfig, n_in: int, n_out: int) -> int:
    """An nn.Linear(n_in, n_out) with the config's bias setting."""
    return n_in * n_out + (n_out if cfg.bias else 0)


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
    kv_heads: Callable[[ModelConfig], int] = lambda cfg: cfg.n_head  # key/value heads
    # Forms the (T, T) score matrix: only then can a position add a score bias to it, or a
    # window mask keys out of it.
    score_matrix: bool = True
    # n_ctx of the FLOPs formula (params.flops_per_token): keys each query's q.k and the
    # weighted sum of v are computed over, per channel
    n_ctx: Callable[[ModelConfig, int], int] = keys_in_window
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
