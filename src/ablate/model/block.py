"""A transformer block: attention and FFN, each wrapped in a residual connection.

Where the norm sits is the ablation (Xiong et al. 2020):

    pre-norm   x = x + attn(norm1(x));   x = x + ffn(norm2(x))     (GPT-2, most modern LMs)
    post-norm  x = norm1(x + attn(x));   x = norm2(x + ffn(x))     (the original Transformer)

Pre-norm leaves an un-normalised residual stream, so the model ends with a final norm
(``final_norm`` in the registry entry); post-norm's output is already normalised.
"""

from __future__ import annotations

import torch
from torch import nn

from ablate.spec.config import ModelConfig
from ablate.spec.registry import ATTENTION, FFN, NORM, resolve


class Block(nn.Module):
    # child name -> kind for Transformer.module_groups (probes group gradients by kind)
    KINDS = {"norm1": "norm", "attn": "attention", "norm2": "norm", "ffn": "ffn"}

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        norm = resolve(NORM, cfg.norm)
        self.norm1 = norm.from_config(cfg)
        self.attn = resolve(ATTENTION, cfg.attention)(cfg)
        # an attention-only block has no second sub-layer and no norm for it
        self.has_ffn = FFN[cfg.ffn].present
        if self.has_ffn:
            self.norm2 = norm.from_config(cfg)
            self.ffn = resolve(FFN, cfg.ffn)(cfg)


class PreNormBlock(Block):
    def forward(self, x: torch.Tensor, pos, mask, capture: dict | None = None) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), pos, mask, capture)
        return x + self.ffn(self.norm2(x)) if self.has_ffn else x


class PostNormBlock(Block):
    def forward(self, x: torch.Tensor, pos, mask, capture: dict | None = None) -> torch.Tensor:
        x = self.norm1(x + self.attn(x, pos, mask, capture))
        return self.norm2(x + self.ffn(x)) if self.has_ffn else x
