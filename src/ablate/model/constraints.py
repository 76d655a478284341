"""Which ModelConfig values can make a model: checked before any job starts.

Pure Python (no torch): the DAG layer calls :func:`check_model_config` on every run spec,
so a bad combination fails in about a second, naming the key and the value, instead of
inside a training job minutes later. ``build_model`` runs the same checks.
"""

from __future__ import annotations

from ablate.config import ModelConfig
from ablate.registry import CHOICES


def check_model_config(cfg: ModelConfig) -> list[str]:
    """Return one message per problem (empty list: the config can build a model)."""
    errors: list[str] = []
    for dotted, registry in CHOICES.items():
        section, key = dotted.split(".")
        if section != "model":
            continue
        value = getattr(cfg, key)
        if value not in registry:
            errors.append(
                f"model.{key}={value!r} is not a known name; valid: {', '.join(registry)}"
            )
    if errors:  # the checks below assume known names
        return errors

    positive = ["d_model", "n_layer", "n_head", "context"]
    for key in positive:
        if getattr(cfg, key) < 1:
            errors.append(f"model.{key}={getattr(cfg, key)} must be >= 1")
    if cfg.vocab_size < 0:
        errors.append(f"model.vocab_size={cfg.vocab_size} must be >= 0 (0: set from the data)")
    if cfg.d_ff is not None and cfg.d_ff < 1:
        errors.append(f"model.d_ff={cfg.d_ff} must be >= 1 (or null: ffn_ratio * d_model)")
    if cfg.d_ff is None and cfg.ffn_hidden < 1:
        errors.append(f"model.ffn_ratio={cfg.ffn_ratio} gives an FFN width < 1")
    if not 0.0 <= cfg.dropout < 1.0:
        errors.append(f"model.dropout={cfg.dropout} must be in [0, 1)")
    if cfg.init_std <= 0:
        errors.append(f"model.init_std={cfg.init_std} must be > 0")
    if cfg.rope_base <= 0:
        errors.append(f"model.rope_base={cfg.rope_base} must be > 0")
    if errors:
        return errors

    if cfg.d_model % cfg.n_head != 0:
        errors.append(f"model.d_model={cfg.d_model} is not divisible by model.n_head={cfg.n_head}")
    if cfg.attention == "gqa":
        if cfg.n_kv_head is None:
            errors.append("model.attention=gqa needs model.n_kv_head (key/value heads)")
        elif cfg.n_kv_head < 1 or cfg.n_head % cfg.n_kv_head != 0:
            errors.append(f"model.n_kv_head={cfg.n_kv_head} must divide model.n_head={cfg.n_head}")
    if cfg.window is not None and cfg.window < 1:
        errors.append(f"model.window={cfg.window} must be >= 1 (or null: full causal)")
    if cfg.pos == "rope" and cfg.d_model % cfg.n_head == 0 and cfg.head_dim % 2 != 0:
        errors.append(
            f"model.pos=rope needs an even head size; model.d_model={cfg.d_model} / "
            f"model.n_head={cfg.n_head} = {cfg.head_dim}"
        )
    # Linear attention never forms the (T, T) score matrix, so it cannot add a score bias
    # (ALiBi) or mask keys out of a window in its O(T) running-sum form.
    if cfg.attention == "linear":
        if cfg.pos == "alibi":
            errors.append(
                "model.attention=linear with model.pos=alibi: linear attention has no "
                "score matrix to add the ALiBi bias to"
            )
        if cfg.window is not None:
            errors.append(
                f"model.attention=linear with model.window={cfg.window}: linear attention "
                "cannot restrict keys to a window"
            )
    return errors
