"""The from-scratch decoder-only transformer: one concept per file.

    params.py        parameter count and FLOPs by formula (torch-free)
    norm.py          LayerNorm, RMSNorm
    position.py      learned / sinusoidal / rotary / ALiBi / none; T5 bias, xPos, FIRE
    attention.py     causal softmax attention (MHA, GQA, MQA; qk-norm; sliding window;
                     an extra zero logit)
    linear_attention.py  causal linear attention (elu + 1 feature map)
    attention_variants.py  sigmoid attention, differential attention
    ffn.py           GELU / ReLU MLPs and SwiGLU
    block.py         pre-norm and post-norm residual blocks
    transformer.py   embedding -> blocks -> final norm -> LM head; build_model

What each variant says about itself (its parameters, constraints, FLOPs) is its registry
entry in spec/ (``ablate.spec.registry``, ``ablate.spec.model_traits``): a new variant is
one small class here and one registry line there.

Takes in: a ModelConfig (spec/). Gives out: an nn.Module, and its size by formula.

Imports from ablate: spec.
Torch: only in norm, position, attention, linear_attention, attention_variants, ffn, block,
transformer (not
params, which store/ and estimate/ import).
"""
