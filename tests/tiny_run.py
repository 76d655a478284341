"""The tiny run the training tests share: 2 layers x 16 wide on the induction task,
40 steps of 8 sequences (about a second on one thread), evals and probes every 20 steps."""

from __future__ import annotations

from ablate.spec.run_spec import check_spec, resolve_spec

TINY = {
    "model": {"d_model": 16, "n_layer": 2, "n_head": 2, "context": 32},
    "train": {
        "steps": 40,
        "batch_size": 8,
        "warmup_steps": 5,
        "eval_every": 20,
        "eval_batches": 2,
        "probe_every": 20,
        "lr": 3e-3,
    },
    "data": {"task": "induction", "seq_len": 32, "vocab": 16},
}


def tiny_spec(overrides: dict | None = None, seed: int = 0) -> dict:
    """The tiny run's resolved spec, with {dotted key: value} overrides."""
    sections = {k: dict(v) for k, v in TINY.items()}
    for dotted, value in (overrides or {}).items():
        section, key = dotted.split(".")
        sections[section][key] = value
    return check_spec(resolve_spec(sections, seed))
