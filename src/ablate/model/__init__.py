"""The from-scratch decoder-only transformer: one concept per file.

    traits.py        what a registered variant says about itself (torch-free)
    constraints.py   which ModelConfig values can make a model (torch-free, used by the DAG)
    params.py        parameter count and FLOPs by formula (torch-free)
    norm.py          LayerNorm, RMSNorm
    position.py      learned / sinusoidal / rotary / ALiBi / no positions
    attention.py     causal softmax attention (MHA, GQA, MQA; qk-norm; sliding window)
    linear_attention.py  causal linear attention (elu + 1 feature map)
    ffn.py           GELU / ReLU MLPs and SwiGLU
    block.py         pre-norm and post-norm residual blocks
    transformer.py   embedding -> blocks -> final norm -> LM head; build_model

This package file stays torch-free so that ``ablate.model.constraints`` and
``ablate.model.params`` can be imported by the DAG layer without paying for torch;
``build_model`` and ``Transformer`` are imported lazily on first use (PEP 562).
"""

from __future__ import annotations

__all__ = ["build_model", "Transformer"]


def __getattr__(name: str):
    if name in __all__:
        from ablate.model import transformer

        return getattr(transformer, name)
    raise AttributeError(f"module 'ablate.model' has no attribute {name!r}")
