"""Fake study tables with exactly the columns of ablate.store.tables, for analysis and reports.

    run_row(variant, seed, overrides={...}, final_val_loss=...)  one runs.parquet row
    fake_runs([...rows])                                          -> runs DataFrame
    default_runs()                    a small rich study: LR sweep, size grid, failures, 2 tasks
    write_study(dir, runs)            runs.parquet + every per-run table + study.json

Specs are resolved with ablate.spec.run_spec and written as collect writes them (typed
columns, parameters by model.params, FLOPs by collect.derived): the real layout and types.
Per-run curves come from a Generator seeded by the run id (shared runs: identical tables).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from fake_probes import probe_tables

from ablate.model.params import count_params
from ablate.spec.run_spec import NUMERICS_VERSION, RunSpec, resolve_spec, set_dotted, spec_hash
from ablate.store.atomic import write_arrow
from ablate.store.collect import derived, runs_table
from ablate.store.tables import STUDY_KEYS, TABLES, study_columns
from ablate.study.manifest import describe_overrides

TASK = "shakespeare_char"
LN_VOCAB = math.log(65)


def make_spec(overrides: dict, seed: int, task: str = TASK) -> RunSpec:
    sections: dict = {"data": {"task": task}}
    for key, value in overrides.items():
        set_dotted(sections, key, value)
    return resolve_spec(sections, seed)


def run_row(
    variant: str,
    seed: int,
    overrides: dict | None = None,
    task: str = TASK,
    group: str | None = None,
    **summary,
) -> dict:
    """One runs.parquet row; summary fields not given get plausible 'ok run' values."""
    overrides = overrides or {}
    spec = make_spec(overrides, seed, task)
    counts = count_params(dataclasses.replace(spec.model, vocab_size=65))
    n = counts["non_embedding"]
    tokens = spec.train.steps * spec.train.batch_size * spec.data.seq_len
    row = {
        "run_id": spec_hash(spec),
        "variant": variant,
        "seed": seed,
        "task": task,
        "group": group or (next(iter(overrides)) if overrides else "base"),
        "overrides": describe_overrides(overrides),
        "log": f"results/runs/{spec_hash(spec)}/train.log",
        **{"stage": "compare", "tuned": "", "ladder": "", "rung": False},  # no tune, no ladder
        "status": "ok",
        "reason": "",
        "status_step": -1,
        "steps_done": spec.train.steps,
        "stopped": "",
        "stopped_step": -1,
        "stopped_reason": "",
        "n_params": counts["total"],
        "n_params_non_embedding": n,
        "initial_loss": LN_VOCAB,
        "ln_vocab": LN_VOCAB,
        "initial_loss_ok": True,
        "baseline_loss": 3.3,
        "final_train_loss": 2.0,
        "final_val_loss": 2.0,
        "final_val_acc": 0.4,
        "best_val_loss": 2.0,
        "n_loss_spikes": 0,
        "n_grad_spikes": 0,
        "n_clipped": 0,
        "max_grad_norm": 2.0,
        "median_grad_norm": 0.5,
        "final_attn_entropy_min": 0.4,
        "final_attn_logit_max": 5.0,
        "tokens": tokens,
        "tokens_per_s": 10000.0,
        "wall_s": tokens / 10000.0,
        "threads": 1,
        "device": "cpu",
        "device_name": "a CPU",
        "dtype": "fp32",
        "torch_version": "2.13.0",
        "numerics_version": NUMERICS_VERSION,
        "resumed_at": "",
        "host": "localhost",
        "slurm_job_id": "",
    }
    row |= derived(spec, row) | spec.flat()
    unknown = set(summary) - set(row)
    if unknown:
        raise KeyError(f"unknown runs column(s) {sorted(unknown)}")
    return row | summary


def fake_runs(rows: list[dict]) -> pd.DataFrame:
    """The rows as analysis reads runs.parquet: collect's column types (tables.py)."""
    return runs_table(rows).to_pandas()


def default_runs(seeds=(0, 1, 2), steps: int = 60) -> pd.DataFrame:
    """A small study with every section of the report populated."""
    base = {"train.steps": steps, "train.eval_every": 20, "train.probe_every": 20}
    variants = {
        "baseline": {},
        "n_head=1": {"model.n_head": 1},
        "qk_norm=True": {"model.qk_norm": True},
        "lr=0.0003": {"train.lr": 3e-4},
        "lr=0.003": {"train.lr": 3e-3},
        "lr=0.03": {"train.lr": 3e-2},
        "norm_placement=post": {"model.norm_placement": "post"},
        "pos=none": {"model.pos": "none"},
    }
    for d in (32, 64, 128):
        for layers in (1, 2):
            variants[f"size/d_model={d},n_layer={layers}"] = {
                "model.d_model": d,
                "model.n_layer": layers,
            }
    rows = []
    for name, overrides in variants.items():
        group = "size" if name.startswith("size/") else None
        for seed in seeds:
            rows.append(_synthetic(name, seed, base, overrides, TASK, group))
    for name, overrides in {"baseline": {}, "n_layer=1": {"model.n_layer": 1}}.items():
        for seed in seeds:
            rows.append(_synthetic(name, seed, base, overrides, "induction", None))
    return fake_runs(rows)


def _synthetic(name, seed, base, overrides, task, group) -> dict:
    """A run whose final loss follows a power law in size, a bowl in log lr, and seed noise."""
    row = run_row(name, seed, base | overrides, task, group)
    row["overrides"] = describe_overrides(overrides)  # the variant's keys, not the base
    row["group"] = group or (next(iter(overrides)) if overrides else "base")
    rng = np.random.default_rng(int(row["run_id"][:8], 16))
    n = row["n_params_non_embedding"]
    loss = 1.4 + 40.0 * n**-0.3 + 0.3 * math.log10(row["train.lr"] / 1e-3) ** 2
    loss += 0.3 if task == "induction" else 0.0
    loss += rng.normal(0, 0.01)
    acc = 1 - loss / LN_VOCAB
    row |= {
        "final_val_loss": loss,
        "best_val_loss": loss,
        "final_train_loss": loss - 0.02,
        "final_val_acc": acc,
        "final_attn_logit_max": 4.0 + 400 * row["train.lr"],
    }
    steps = row["train.steps"]
    if name == "lr=0.03" and seed != 0:  # diverges on 2 of 3 seeds
        row |= {
            "status": "diverged",
            "status_step": steps // 2,
            "stopped": "diverged",
            "stopped_step": steps // 2,
            "stopped_reason": f"loss is nan at step {steps // 2}",
            "steps_done": steps // 2,
            "reason": f"loss is nan at step {steps // 2}",
            "final_val_loss": float("nan"),
            "final_val_acc": float("nan"),
        }
    if name == "norm_placement=post":  # learns nothing (post-LN without warmup stalls)
        row |= {"status": "stalled", "status_step": steps, "reason": "final loss not below"}
        row |= {"final_val_loss": 3.3, "final_train_loss": 3.3, "final_val_acc": 0.15}
    if name == "pos=none" and seed == 1:
        row |= {
            "status": "collapsed",
            "status_step": steps,
            "final_attn_entropy_min": 0.01,
            "reason": "layer 0 mean attention entropy 0.010 < 0.05",
        }
    if name == "lr=0.003":
        row |= {"n_loss_spikes": 2, "n_grad_spikes": 3, "max_grad_norm": 40.0}
    return row


def write_study(study_dir: str | Path, runs: pd.DataFrame, name: str = "fake") -> Path:
    """runs.parquet, the per-run tables drawn to match each run's summary, and study.json."""
    study_dir = Path(study_dir)
    study_dir.mkdir(parents=True, exist_ok=True)
    parts: dict[str, list[pd.DataFrame]] = {t: [] for t in TABLES}
    for row in runs.to_dict("records"):
        keys = {k: row[k] for k in STUDY_KEYS}
        for table, frame in run_tables(row).items():
            parts[table].append(frame.assign(**keys)[study_columns(table)])
    write_arrow(study_dir / "runs.parquet", runs_table(runs.to_dict("records")))
    for table, frames in parts.items():
        pd.concat(frames, ignore_index=True).to_parquet(study_dir / f"{table}.parquet")
    meta = {
        "study": name,
        "config_hash": "0123456789abcdef",
        "baseline": "baseline",
        "n_runs": len(runs),
        "created": "2025-01-01T00:00:00+00:00",
    }
    (study_dir / "study.json").write_text(json.dumps(meta))
    return study_dir


def run_tables(row: dict) -> dict[str, pd.DataFrame]:
    """Per-run steps/evals/grads/probes/attn_maps/samples consistent with the run's summary row."""
    rng = np.random.default_rng(int(row["run_id"][:8], 16))
    layers, heads = row["model.n_layer"], row["model.n_head"]
    done, l0 = int(row["steps_done"]), float(row["initial_loss"])
    final = row["final_val_loss"] if np.isfinite(row["final_val_loss"]) else l0
    step = np.arange(1, done + 1)
    loss = final + (l0 - final) * np.exp(-step / (done / 5)) + rng.normal(0, 0.02, done)
    grad = 0.5 + 1.5 * np.exp(-step / 10) + rng.gamma(2, 0.05, done)
    if row["status"] == "diverged":
        loss[-5:] = l0 * np.array([2, 4, 8, 16, np.nan])
        grad[-5:] = [10, 100, 1e3, 1e4, np.nan]
    batch_tokens = row["train.batch_size"] * row["data.seq_len"]
    steps = pd.DataFrame(
        {
            "step": step,
            "loss": loss,
            "lr": row["train.lr"],
            "grad_norm": grad,
            "clipped": grad > 1.0,
            "loss_spike": False,
            "grad_spike": False,
            "tokens": step * batch_tokens,
            "time_s": step * 0.01,
        }
    )
    every = row["train.eval_every"]
    eval_steps = [s for s in range(every, done + 1, every)] or [done]
    evals = []
    for s in eval_steps:
        v = final + (l0 - final) * math.exp(-s / (done / 5)) if s != done else final
        for mult in (1, 2):
            seq = row["data.seq_len"] * mult
            evals.append(
                {
                    "step": s,
                    "split": "val",
                    "seq_len": seq,
                    "loss": v + 0.3 * (mult - 1),
                    "bpc": v / math.log(2),
                    "token_acc": 1 - v / l0,
                    "seq_acc": 0.0,
                    "note": "",
                }
            )
    grads = [
        {"step": int(s), "layer": layer, "module": module, "grad_norm": float(g) / (layer + 2)}
        for s, g in zip(step, grad, strict=True)
        for layer in range(-1, layers)
        for module in (("embedding", "head") if layer < 0 else ("attention", "ffn"))
    ]
    probes, curvature = probe_tables(row, done)
    maps = []
    size = 8
    for layer in range(layers):
        for head in range(heads):
            for q in range(size):
                w = np.exp(rng.normal(0, 1 + head, q + 1))
                maps += [
                    {"layer": layer, "head": head, "query": q, "key": k, "weight": x}
                    for k, x in enumerate(w / w.sum())
                ]
    # the text task's samples: markup in the text, which the report must escape
    sample = {"prompt": "ROMEO:\n", "text": f"<b>{row['variant']}</b> & so\nforth"}
    sample |= {"temperature": 0.8, "sample_seed": row["seed"], "n_tokens": 200}
    samples = pd.DataFrame([sample] * (row["task"] == TASK), columns=list(TABLES["samples"]))
    return {
        "samples": samples,
        "steps": steps,
        "evals": pd.DataFrame(evals),
        "grads": pd.DataFrame(grads),
        "probes": probes,
        "attn_maps": pd.DataFrame(maps),
        "curvature": curvature,
    }
