"""Which model and data settings can make a run: checked before any job starts.

Pure Python (no torch): the DAG layer calls :func:`check_model_config` and
:func:`check_data_config` on every run spec (through ``run_spec.spec_errors``), so a bad
combination fails in about a second, naming the key and the value, instead of inside a
training job minutes later. ``build_model`` and ``build_task`` run the same checks.

Three layers, each stated once: every key's own type and range (its dataclass field,
``ablate.spec.validation``); the rules below, which join keys and ask the variants' traits
(``ablate.spec.registry``) what they need; and each variant's own ``check``.
"""

from __future__ import annotations

from ablate.spec.config import ModelConfig
from ablate.spec.registry import ATTENTION, CHOICES, POSITION, TASKS
from ablate.spec.validation import config_errors


def check_model_config(cfg: ModelConfig) -> list[str]:
    """Return one message per problem (empty list: the config can build a model)."""
    errors = config_errors("model", cfg)
    if errors:  # the rules below assume every value is valid on its own
        return errors
    if cfg.d_ff is None and cfg.ffn_hidden < 1:
        errors.append(f"model.ffn_ratio={cfg.ffn_ratio} gives an FFN width < 1")
    if cfg.d_model % cfg.n_head != 0:
        errors.append(f"model.d_model={cfg.d_model} is not divisible by model.n_head={cfg.n_head}")
    attention, pos = ATTENTION[cfg.attention], POSITION[cfg.pos]
    # Without a (T, T) score matrix (linear attention's O(T) running sums) there is nothing
    # to add a score bias to and no key to mask out of a window.
    if pos.score_bias and not attention.score_matrix:
        errors.append(
            f"model.attention={cfg.attention} with model.pos={cfg.pos}: {cfg.attention} "
            f"attention has no score matrix to add the {cfg.pos} bias to"
        )
    if cfg.softmax_one and not attention.softmax:
        errors.append(
            f"model.softmax_one=True with model.attention={cfg.attention}: its weights are no "
            "softmax to add a zero logit to"
        )
    if cfg.window is not None and not attention.score_matrix:
        errors.append(
            f"model.attention={cfg.attention} with model.window={cfg.window}: "
            f"{cfg.attention} attention cannot restrict keys to a window"
        )
    for dotted, registry in CHOICES.items():  # each variant's own constraints
        section, key = dotted.split(".")
        if section == "model":
            errors += registry[getattr(cfg, key)].check(cfg)
    return errors


def check_data_config(data) -> list[str]:
    """Every problem of these data settings, each message naming the key and its value.

    Each key's own range comes from its field (``ablate.spec.validation``); what a task needs
    beyond that, from its traits (``registry.TASKS``, ``ablate.spec.task_traits``)."""
    errors = config_errors("data", data)
    if errors:  # the task's checks assume sane values (and a known task)
        return errors
    task = TASKS[data.task]
    if not task.reads_path and data.path is not None:
        readers = " or ".join(repr(name) for name, t in TASKS.items() if t.reads_path)
        errors.append(f"data.path={data.path!r} is only read by data.task={readers}")
    return errors + task.check(data)
