"""The decoder-only transformer: token embedding + positions -> N blocks -> norm -> LM head.

Every architectural choice is a registry entry named by the config (``ablate.spec.registry``),
so this file only wires them together:

    x = wte(idx) (+ pos.embed(T))            token embedding, additive positions if any
    x = block(x, pos, mask) for each block   rope / alibi act inside attention via ``pos``
    logits = head(norm_f(x))                 head tied to wte unless cfg.tie_head=False

``forward(idx, capture={})`` is the probe path: attention is computed with an explicit
softmax and the dict is filled with attention probabilities, max logits and the residual
stream after each block (see ``Transformer.forward``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ablate.model.attention import AttentionMask
from ablate.spec.config import ModelConfig
from ablate.spec.constraints import check_model_config
from ablate.spec.registry import NORM, NORM_PLACEMENT, PARAMETRIZATION, POSITION, resolve


class Transformer(nn.Module):
    def __init__(self, cfg: ModelConfig, generator: torch.Generator | None = None):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos_traits = POSITION[cfg.pos]
        self.pos = resolve(POSITION, cfg.pos)(cfg)
        self.drop = nn.Dropout(cfg.dropout)
        block = resolve(NORM_PLACEMENT, cfg.norm_placement)
        self.blocks = nn.ModuleList(block(cfg) for _ in range(cfg.n_layer))
        final_norm = NORM_PLACEMENT[cfg.norm_placement].final_norm
        self.norm_f = resolve(NORM, cfg.norm).from_config(cfg) if final_norm else None
        self.head = None if cfg.tie_head else nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        # muP (model_traits.Parametrization): the readout's logits shrink as 1/width_mult, so
        # that a wider model's output moves by as much per step as the base model's
        self.width_mult = PARAMETRIZATION[cfg.parametrization].width_mult(cfg)
        self._init_weights(generator)

    def _init_weights(self, generator: torch.Generator | None) -> None:
        """GPT-2 init: N(0, init_std) for every matrix and table, zero biases, unit gains;
        projections that write into the residual stream get std / sqrt(2 * n_layer) so the
        stream's variance does not grow with depth (2 residual writes per block). A position
        module's parameters start like the token table, whatever their shape. Under muP the
        hidden matrices' std is divided by sqrt(width_mult): variance 1/fan_in across widths."""
        std = self.cfg.init_std
        residual_std = (
            std / math.sqrt(2 * self.cfg.n_layer) if self.cfg.scale_residual_init else std
        )
        hidden = {id(w) for w in self.hidden_matrices()}
        for module in self.modules():
            if isinstance(module, nn.Linear):
                s = residual_std if getattr(module, "is_residual_output", False) else std
                if id(module.weight) in hidden:
                    s = s / math.sqrt(self.width_mult)
                nn.init.normal_(module.weight, 0.0, s, generator=generator)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, 0.0, std, generator=generator)
        if not hasattr(self.pos, "init_parameters"):
            for p in self.pos.parameters():
                nn.init.normal_(p, 0.0, std, generator=generator)
        for module in self.modules():  # a module that knows its own start sets it last
            if hasattr(module, "init_parameters"):
                module.init_parameters(std, generator)
        # norm gains start at 1 and biases at 0 from their constructors

    def supports_length(self, T: int) -> bool:
        """False only where the positions have no place beyond some length (a table)."""
        max_len = self.pos_traits.max_len(self.cfg)
        return max_len is None or max_len >= T

    def forward(self, idx: torch.Tensor, capture: dict | None = None) -> torch.Tensor:
        """idx (B, T) token ids -> logits (B, T, vocab).

        With ``capture`` (a dict) it also fills, per layer in order:
          attn_probs      (B, H, T, T) attention weights, rows sum to 1 over visible keys
          attn_logit_max  (H,) max of q.k/sqrt(d) over visible (batch, query, key), before
                          any ALiBi bias; NaN for linear attention (it has no logits)
          resid           (B, T, C) residual stream after the block
        and capture["visible"], the (T, T) bool mask of keys each query may see.
        """
        B, T = idx.shape
        if not self.supports_length(T):
            raise ValueError(
                f"sequence length {T} exceeds {self.pos_traits.max_len(self.cfg)} "
                f"(model.context={self.cfg.context}): model.pos={self.cfg.pos} has no "
                "positions beyond it"
            )
        x = self.wte(idx)
        pe = self.pos.embed(T)
        if pe is not None:
            x = x + pe.to(x.device)
        x = self.drop(x)
        mask = AttentionMask.build(T, self.cfg.window, self.pos.bias(T), device=idx.device)
        if capture is not None:
            capture.update(attn_probs=[], attn_logit_max=[], resid=[], visible=mask.visible)
        for block in self.blocks:
            x = block(x, self.pos, mask, capture)
            if capture is not None:
                capture["resid"].append(x.detach())
        if self.norm_f is not None:
            x = self.norm_f(x)
        weight = self.wte.weight if self.head is None else self.head.weight
        logits = F.linear(x, weight)
        return logits if self.width_mult == 1.0 else logits / self.width_mult

    def hidden_matrices(self) -> list[nn.Parameter]:
        """The weights of every nn.Linear inside the blocks: muP's "hidden" matrices, whose
        fan-in and fan-out both grow with width (their init and Adam lr scale with it)."""
        return [m.weight for m in self.blocks.modules() if isinstance(m, nn.Linear)]

    def module_groups(self) -> dict[tuple[int, str], list[nn.Parameter]]:
        """(layer, kind) -> parameters; layer -1 outside the blocks. Every parameter is in
        exactly one group (a tied head's weight is the embedding's, counted there)."""
        groups: dict[tuple[int, str], list[nn.Parameter]] = {}
        seen: set[int] = set()

        def add(layer: int, kind: str, module: nn.Module) -> None:
            for p in module.parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    groups.setdefault((layer, kind), []).append(p)

        add(-1, "embedding", self.wte)
        add(-1, "embedding" if self.pos_traits.embedding else "position", self.pos)
        for i, block in enumerate(self.blocks):
            for name, child in block.named_children():
                add(i, block.KINDS[name], child)
        if self.norm_f is not None:
            add(-1, "norm", self.norm_f)
        if self.head is not None:
            add(-1, "head", self.head)
        return groups

    def n_params(self, non_embedding: bool = False) -> int:
        """Trainable parameters; non_embedding leaves out the token table, a position table
        (a position whose traits say ``embedding``) and an untied head (Kaplan et al. 2020
        count N this way)."""
        total = sum(p.numel() for p in self.parameters())
        if non_embedding:
            total -= sum(p.numel() for p in self.wte.parameters())
            if self.pos_traits.embedding:
                total -= sum(p.numel() for p in self.pos.parameters())
            if self.head is not None:
                total -= self.head.weight.numel()
        return total


def build_model(cfg: ModelConfig, generator: torch.Generator | None = None) -> Transformer:
    """Check the config and build the model. Initial weights come from ``generator`` if
    given, else from torch's default generator (seed it with torch.manual_seed first)."""
    errors = check_model_config(cfg)
    if cfg.vocab_size < 1:
        errors.append(f"model.vocab_size={cfg.vocab_size} must be > 0 (set it from the data)")
    if errors:
        raise ValueError("invalid model config: " + "; ".join(errors))
    return Transformer(cfg, generator)
