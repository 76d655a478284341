"""The fake study's probe and curvature tables (tests/fake_study.py): entropy falling to the
run's final minimum, logits growing to its final maximum, a sink forming in the last head
of the last layer, a massive-activation ratio growing with depth, and a sharpness rising
towards 90 % of 2/lr, as Cohen et al. describe."""

from __future__ import annotations

import math

import pandas as pd

UNIFORM_SINK = 0.07


def probe_tables(row: dict, done: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(probes, curvature) of a fake run that completed ``done`` steps."""
    layers, heads = row["model.n_layer"], row["model.n_head"]
    probe_every = row["train.probe_every"]
    probe_steps = [0, *range(probe_every, done + 1, probe_every)]
    probes = []
    for s in probe_steps:
        frac = s / max(done, 1)
        for layer in range(layers):
            for head in range(heads):
                ent = 0.95 - frac * (0.95 - row["final_attn_entropy_min"]) * (head + 1) / heads
                logit = 0.1 + frac * (row["final_attn_logit_max"] - 0.1) * (head + 1) / heads
                probes += [
                    _row(s, layer, head, "attn_entropy", ent),
                    _row(s, layer, head, "attn_logit_max", logit),
                ]
            probes.append(_row(s, layer, -1, "resid_rms", 1.0 + frac))
    probes += dynamics_probe_rows(probe_steps, done, layers, heads)
    curvature = curvature_frame(probe_steps, row["train.lr"], row["train.batch_size"])
    return pd.DataFrame(probes), curvature


def dynamics_probe_rows(probe_steps: list[int], done: int, layers: int, heads: int) -> list[dict]:
    rows = []
    for s in probe_steps:
        frac = s / max(done, 1)
        for layer in range(layers):
            rows.append(_row(s, layer, -1, "massive_ratio", 5 + 20 * frac * layer))
            for head in range(heads):
                sink = layer == layers - 1 and head == heads - 1
                rows.append(_row(s, layer, head, "sink_mass", UNIFORM_SINK + 0.6 * frac * sink))
        rows.append(_row(s, -1, -1, "sink_uniform", UNIFORM_SINK))
    return rows


def curvature_frame(probe_steps: list[int], lr: float, batch_size: int) -> pd.DataFrame:
    adam = 38.0 / lr  # (2 + 2 beta1) / ((1 - beta1) lr) at beta1 = 0.9
    return pd.DataFrame(
        {
            "step": probe_steps,
            "lr": lr,
            "batch_size": batch_size,
            "noise_scale": [20.0 + 0.5 * s for s in probe_steps],
            "noise_g2": [1.0 / (1 + s) for s in probe_steps],
            "noise_trace": [(20.0 + 0.5 * s) / (1 + s) for s in probe_steps],
            "sharpness": [1.8 / lr * (1 - math.exp(-s / 20)) + 1.0 for s in probe_steps],
            "sharpness_precond": [math.nan] + [0.5 * adam] * (len(probe_steps) - 1),
            "eos_gd": 2 / lr,
            "eos_adam": adam,
        }
    )


def _row(step: int, layer: int, head: int, metric: str, value: float) -> dict:
    return {"step": step, "layer": layer, "head": head, "metric": metric, "value": value}
