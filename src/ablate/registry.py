"""Every named variant of the lab, one registry per axis, without importing torch.

A config names a variant by string (``model.pos: rope``). The DAG layer validates the
names against these tables (so a typo fails before any job starts, listing the valid
names) and the model / data code resolves them to classes with :func:`resolve`.

Adding a variant = one small class in its module + one line here. The generic tests
iterate over these tables, so the new entry is covered automatically.
"""

from __future__ import annotations

import importlib

ATTENTION = {
    "mha": "ablate.model.attention:MultiHeadAttention",
    "gqa": "ablate.model.attention:MultiHeadAttention",
    "mqa": "ablate.model.attention:MultiHeadAttention",
    "linear": "ablate.model.linear_attention:LinearAttention",
}

POSITION = {
    "learned": "ablate.model.position:LearnedPosition",
    "sinusoidal": "ablate.model.position:SinusoidalPosition",
    "rope": "ablate.model.position:RotaryPosition",
    "alibi": "ablate.model.position:ALiBiPosition",
    "none": "ablate.model.position:NoPosition",
}

NORM = {
    "layernorm": "ablate.model.norm:LayerNorm",
    "rmsnorm": "ablate.model.norm:RMSNorm",
}

NORM_PLACEMENT = {
    "pre": "ablate.model.block:PreNormBlock",
    "post": "ablate.model.block:PostNormBlock",
}

FFN = {
    "gelu": "ablate.model.ffn:GeluMLP",
    "relu": "ablate.model.ffn:ReluMLP",
    "swiglu": "ablate.model.ffn:SwiGLU",
    "none": "ablate.model.ffn:NoFFN",
}

PRECISION = {"fp32": None, "bf16": None}

TOKENIZER = {
    "char": "ablate.data.tokenize:CharTokenizer",
    "byte": "ablate.data.tokenize:ByteTokenizer",
}

TASKS = {
    # text corpora
    "shakespeare_char": "ablate.data.text:ShakespeareChar",
    "canterbury": "ablate.data.text:Canterbury",
    "text_file": "ablate.data.text:TextFile",
    # synthetic, generated on the fly from the data seed
    "copy": "ablate.data.synthetic:Copy",
    "reverse": "ablate.data.synthetic:Reverse",
    "sort": "ablate.data.synthetic:Sort",
    "mqar": "ablate.data.recall:MQAR",
    "induction": "ablate.data.recall:Induction",
    "modadd": "ablate.data.modadd:ModAdd",
}

# config key -> registry: the choices a string-valued key may take.
CHOICES: dict[str, dict[str, str | None]] = {
    "model.attention": ATTENTION,
    "model.pos": POSITION,
    "model.norm": NORM,
    "model.norm_placement": NORM_PLACEMENT,
    "model.ffn": FFN,
    "train.precision": PRECISION,
    "data.tokenizer": TOKENIZER,
    "data.task": TASKS,
}


def resolve(registry: dict[str, str | None], name: str):
    """Import and return the class registered under ``name``."""
    if name not in registry:
        raise KeyError(f"unknown variant {name!r}; valid: {', '.join(sorted(registry))}")
    target = registry[name]
    if target is None:
        raise KeyError(f"variant {name!r} has no class (it is a plain option)")
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)
