"""Every named variant of the lab, one registry per axis, without importing torch.

A config names a variant by string (``model.pos: rope``). Each registry maps the name to a
small record of the variant's traits (``ablate.spec.model_traits``, ``ablate.spec.task_traits``
and the two records below): the class it builds, resolved lazily by :func:`resolve`, and the
facts the rest of the lab asks about it (parameters it adds, constraints it imposes, a score
bias, its FLOPs). The registry is plain data: it imports its traits and nothing imports it
back. No code outside this package compares a config value with a variant's name.

Adding a variant = one small class in its module + one line here. The generic tests
iterate over these tables, so the new entry is covered automatically.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ablate.spec import task_traits as layout
from ablate.spec.model_traits import (
    FFN,
    Attention,
    Norm,
    Parametrization,
    Placement,
    Position,
    even_head_size,
    even_heads,
    given_kv_heads,
    gqa_errors,
    mup_errors,
    mup_width,
    sp_errors,
    swiglu_hidden,
)
from ablate.spec.task_traits import TaskTraits


@dataclass(frozen=True)
class Precision:
    autocast: str | None = None  # torch dtype name that autocast runs the forward pass in
    module: None = None  # a plain option: nothing to resolve


@dataclass(frozen=True)
class Schedule:
    module: str  # "ablate.train.lr_schedule:fn": fn(step, train config) -> lr


@dataclass(frozen=True)
class Tokenizer:
    module: str
    any_bytes: bool = False  # takes any file: bytes that are not UTF-8 come through too


# ---------------------------------------------------------------- the registries

ATTENTION = {
    "mha": Attention("ablate.model.attention:MultiHeadAttention"),
    "gqa": Attention(
        "ablate.model.attention:MultiHeadAttention",
        kv_heads=given_kv_heads,
        check=gqa_errors,
    ),
    "mqa": Attention("ablate.model.attention:MultiHeadAttention", kv_heads=lambda cfg: 1),
    # running sums cost about head_dim per channel in place of the keys a query sees
    "linear": Attention(
        "ablate.model.linear_attention:LinearAttention",
        score_matrix=False,
        n_ctx=lambda cfg, seq_len: cfg.head_dim,
        softmax=False,
    ),
    "sigmoid": Attention("ablate.model.attention_variants:SigmoidAttention", softmax=False),
    # four lambda vectors of head_dim and the pairs' RMSNorm gain (2 head_dim)
    "differential": Attention(
        "ablate.model.attention_variants:DifferentialAttention",
        params=lambda cfg: 6 * cfg.head_dim,
        softmax=False,
        check=even_heads,
    ),
}

POSITION = {
    "learned": Position(
        "ablate.model.position:LearnedPosition",
        params=lambda cfg: cfg.context * cfg.d_model,
        embedding=True,
        max_len=lambda cfg: cfg.context,
    ),
    "sinusoidal": Position("ablate.model.position:SinusoidalPosition"),
    "rope": Position("ablate.model.position:RotaryPosition", check=even_head_size),
    "alibi": Position("ablate.model.position:ALiBiPosition", score_bias=True),
    "t5": Position(
        "ablate.model.position:T5Position", params=lambda cfg: 32 * cfg.n_head, score_bias=True
    ),
    "xpos": Position("ablate.model.position:XPosPosition", check=even_head_size),
    "fire": Position(
        "ablate.model.position:FirePosition",
        params=lambda cfg: (1 * 32 + 32) + (32 * cfg.n_head + cfg.n_head) + 2,
        score_bias=True,
    ),
    "none": Position("ablate.model.position:NoPosition"),
}

NORM = {
    "layernorm": Norm(
        "ablate.model.norm:LayerNorm", params=lambda cfg, dim: dim * (2 if cfg.bias else 1)
    ),
    "rmsnorm": Norm("ablate.model.norm:RMSNorm"),
}

NORM_PLACEMENT = {
    "pre": Placement("ablate.model.block:PreNormBlock"),
    "post": Placement("ablate.model.block:PostNormBlock", final_norm=False),
}

FFN = {
    "gelu": FFN("ablate.model.ffn:GeluMLP"),
    "relu": FFN("ablate.model.ffn:ReluMLP"),
    "swiglu": FFN("ablate.model.ffn:SwiGLU", hidden=swiglu_hidden, inputs=2),
    "none": FFN("ablate.model.ffn:NoFFN", present=False),
}

PARAMETRIZATION = {
    "sp": Parametrization(check=sp_errors),
    "mup": Parametrization(width_mult=mup_width, check=mup_errors),
}

SCHEDULE = {
    "cosine": Schedule("ablate.train.lr_schedule:cosine"),
    # warmup-stable-decay (Hagele et al. 2024): constant after warmup, a final decay
    "wsd": Schedule("ablate.train.lr_schedule:warmup_stable_decay"),
}

PRECISION = {"fp32": Precision(), "bf16": Precision(autocast="bfloat16")}

TOKENIZER = {
    "char": Tokenizer("ablate.data.tokenize:CharTokenizer"),
    "byte": Tokenizer("ablate.data.tokenize:ByteTokenizer", any_bytes=True),
}

TASKS = {
    # text corpora
    "shakespeare_char": TaskTraits("ablate.data.text:ShakespeareChar", corpus="shakespeare_char"),
    "canterbury": TaskTraits("ablate.data.text:Canterbury", corpus="canterbury"),
    "text_file": TaskTraits("ablate.data.text:TextFile", reads_path=True, check=layout.path_errors),
    # synthetic, generated on the fly from the data seed
    "copy": TaskTraits(
        "ablate.data.synthetic:Copy",
        layout.source_and_target,
        scalable=True,
        answers=layout.content_tokens,
    ),
    "reverse": TaskTraits(
        "ablate.data.synthetic:Reverse",
        layout.source_and_target,
        scalable=True,
        answers=layout.content_tokens,
    ),
    "sort": TaskTraits(
        "ablate.data.synthetic:Sort",
        layout.source_and_target,
        scalable=True,
        answers=layout.content_tokens,
    ),
    "mqar": TaskTraits(
        "ablate.data.recall:MQAR",
        scalable=True,
        check=layout.mqar_errors,
        answers=layout.mqar_values,
    ),
    "induction": TaskTraits(
        "ablate.data.recall:Induction",
        scalable=True,
        check=layout.induction_errors,
        answers=layout.content_tokens,
    ),
    "modadd": TaskTraits(
        "ablate.data.modadd:ModAdd",
        layout.equation,
        check=layout.modadd_errors,
        held_out=layout.modadd_held_out,
        answers=layout.residues,
    ),
}

# config key -> registry: the choices a string-valued key may take.
CHOICES: dict[str, dict] = {
    "model.attention": ATTENTION,
    "model.pos": POSITION,
    "model.norm": NORM,
    "model.norm_placement": NORM_PLACEMENT,
    "model.ffn": FFN,
    "model.parametrization": PARAMETRIZATION,
    "train.schedule": SCHEDULE,
    "train.precision": PRECISION,
    "data.tokenizer": TOKENIZER,
    "data.task": TASKS,
}


def resolve(registry: dict, name: str):
    """Import and return the class registered under ``name``."""
    if name not in registry:
        raise KeyError(f"unknown variant {name!r}; valid: {', '.join(sorted(registry))}")
    target = registry[name].module
    if target is None:
        raise KeyError(f"variant {name!r} has no class (it is a plain option)")
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


@contextmanager
def registered(registry: dict, name: str, traits) -> Iterator[None]:
    """Add a variant for the length of a with-block (a test's throwaway variant)."""
    if name in registry:
        raise KeyError(f"variant {name!r} is registered already")
    registry[name] = traits
    try:
        yield
    finally:
        del registry[name]
