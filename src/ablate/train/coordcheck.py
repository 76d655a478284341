"""The coordinate check (Yang et al. 2021, "Tensor Programs V", their Figure 5 and the
``mup`` package's ``get_coord_data``): does a parametrization keep every activation's size
the same across widths as training starts?

For SP and for muP, one model per width is built from a run spec (``model.d_model`` set to
the width, the head count kept, so the head size grows; muP's base width is the smallest
width, where the two are the same model) and trained ``steps`` steps at a constant learning
rate on the same batches. During each step's forward pass, forward hooks record the mean
absolute value ("size of a coordinate") at these sites:

    embedding            token + position embedding, what the first block reads
    block<i>.attn        block i's attention sub-layer output (before the residual add)
    block<i>.ffn         block i's FFN output
    block<i>.attn_logits block i's attention scores q.k / score_div over visible keys
                         (mechanisms with a score matrix only)
    output_logits        the logits

Under SP with Adam a width-n model's updates move the activations by O(n) times more,
so after the first step the sizes grow with width; under muP they stay flat. Step 1 is
the model at initialisation (its forward pass comes before the first update).
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import torch

from ablate.data.build import build_task
from ablate.spec.registry import ATTENTION
from ablate.spec.run_spec import RunSpec, check_spec
from ablate.train.loop import setup
from ablate.train.step import Stepper, make_optimizer

COLUMNS = ["parametrization", "width", "step", "site", "mean_abs", "loss"]
PARAMETRIZATIONS = ("sp", "mup")


def widened(spec: RunSpec, width: int, parametrization: str, base_width: int, steps: int):
    """The spec at ``width`` under ``parametrization``, at a constant lr for ``steps``
    steps (no warmup, no decay: the check compares one lr across widths). An explicit
    d_ff grows in proportion to the width."""
    m = spec.model
    d_ff = None if m.d_ff is None else max(1, round(m.d_ff * width / m.d_model))
    model = dataclasses.replace(
        m,
        d_model=width,
        d_ff=d_ff,
        parametrization=parametrization,
        mup_base_width=base_width if parametrization == "mup" else None,
    )
    train = dataclasses.replace(
        spec.train, steps=steps, warmup_steps=0, schedule="cosine", min_lr_ratio=1.0
    )
    return check_spec(dataclasses.replace(spec, model=model, train=train))


def _hooks(model, record: dict) -> list:
    """Forward hooks writing each site's mean |x| into ``record`` (site -> float)."""

    def size(site):
        def hook(module, args, output):
            record[site] = float(output.detach().abs().float().mean())

        return hook

    def logits(site):
        def hook(module, args, output):
            x, pos, mask = args[:3]
            with torch.no_grad():
                q, k, _ = module.heads(x, pos)
                if module.n_kv_head != module.n_head:
                    k = k.repeat_interleave(module.n_head // module.n_kv_head, dim=1)
                scores = (q @ k.transpose(-2, -1)) / module.score_div
                record[site] = float(scores.abs()[..., mask.visible].float().mean())

        return hook

    handles = [model.drop.register_forward_hook(size("embedding"))]
    scores = ATTENTION[model.cfg.attention].score_matrix
    for i, block in enumerate(model.blocks):
        handles.append(block.attn.register_forward_hook(size(f"block{i}.attn")))
        if scores:
            handles.append(block.attn.register_forward_hook(logits(f"block{i}.attn_logits")))
        if block.has_ffn:
            handles.append(block.ffn.register_forward_hook(size(f"block{i}.ffn")))
    handles.append(model.register_forward_hook(size("output_logits")))
    return handles


def coordcheck(
    spec: RunSpec, widths: list[int], steps: int, root=".", threads: int = 1, log=print
) -> pd.DataFrame:
    """One row per (parametrization, width, step, site): COLUMNS."""
    widths = sorted(widths)
    task = build_task(spec.data, str(root))
    rows = []
    for parametrization in PARAMETRIZATIONS:
        for width in widths:
            at = widened(spec, width, parametrization, widths[0], steps)
            model, task, t, autocast = setup(at, threads, root, task=task)
            stepper = Stepper(model, make_optimizer(model, t), task, at.data_seed, t, autocast)
            record: dict = {}
            handles = _hooks(model, record)
            for step in range(1, steps + 1):
                record.clear()
                loss = float(stepper(step).loss)
                rows += [
                    (parametrization, width, step, site, value, loss)
                    for site, value in record.items()
                ]
            for h in handles:
                h.remove()
            log(f"coordcheck {parametrization} width {width}: loss {loss:.3f} at step {steps}")
    return pd.DataFrame(rows, columns=COLUMNS)


def growth(table: pd.DataFrame, site: str, step: int) -> dict[str, float]:
    """parametrization -> mean_abs at the largest width / at the smallest, at ``step``."""
    at = table[(table["site"] == site) & (table["step"] == step)]
    out = {}
    for p, group in at.groupby("parametrization"):
        by_width = group.set_index("width")["mean_abs"].sort_index()
        out[p] = float(by_width.iloc[-1] / by_width.iloc[0])
    return out
