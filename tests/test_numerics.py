"""The numerics version guard: tiny golden runs against their stored loss trajectories.

A run's identity includes ``spec.NUMERICS_VERSION`` so that results of changed numerics
never mix with old ones. This test is what makes the version honest: it trains a few tiny
runs that cover the model's axes and compares every step's loss with the values stored in
tests/golden_numerics.json, at a relative tolerance well above the rounding differences
between CPU kinds (~1e-6 over these few steps) and well below any real change to the model,
data or training loop. When it fails, a change altered the numbers runs write: bump
NUMERICS_VERSION (so old runs become stale and retrain) and regenerate the file:

    PYTHONPATH=src python tests/test_numerics.py --write
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest

GOLDEN = Path(__file__).with_name("golden_numerics.json")
RTOL = 1e-4
BASE = {
    "model": {"d_model": 16, "n_layer": 2, "n_head": 2, "context": 32},
    "train": {"steps": 12, "batch_size": 4, "warmup_steps": 3, "lr": 1e-2,
              "eval_every": 6, "eval_batches": 1, "probe_every": 6},
    "data": {"task": "induction", "seq_len": 32, "vocab": 16},
}  # fmt: skip
# each golden run switches on a different part of the model, data and loop
CASES = {
    "baseline": {},
    "rope_rmsnorm_swiglu_gqa": {
        "model": {"pos": "rope", "norm": "rmsnorm", "ffn": "swiglu", "attention": "gqa",
                  "n_kv_head": 1, "qk_norm": True},
    },
    "alibi_post_mqa_relu": {
        "model": {"pos": "alibi", "norm_placement": "post", "attention": "mqa",
                  "ffn": "relu", "tie_head": False, "bias": True},
        "train": {"z_loss": 1e-3, "grad_clip": 0.0},
    },
    "text_sinusoidal_linear": {
        "model": {"pos": "sinusoidal", "attention": "linear"},
        "data": {"task": "text_file", "seq_len": 32},  # data.path: a file the test writes
    },
    "modadd_dropout_window": {
        "model": {"dropout": 0.1, "pos": "none", "window": 8},
        "data": {"task": "modadd", "modulus": 11},
    },
}  # fmt: skip
TEXT = "".join(
    f"line {i}: the quick brown fox jumps over the lazy dog {i * i}\n" for i in range(200)
)


def trajectories() -> dict[str, list[float]]:
    from ablate.spec.run_spec import check_spec, resolve_spec
    from ablate.train.loop import train_run

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "golden.txt").write_text(TEXT)
        for name, changes in CASES.items():
            sections = {k: dict(v) | changes.get(k, {}) for k, v in BASE.items()}
            if sections["data"]["task"] == "text_file":
                sections["data"]["path"] = str(root / "golden.txt")
            spec = check_spec(resolve_spec(sections, 0))
            train_run(spec, root / name, root=root, log=lambda m: None)
            out[name] = pd.read_parquet(root / name / "steps.parquet")["loss"].tolist()
    return out


def test_golden_runs_match_the_numerics_version():
    from ablate.spec.run_spec import NUMERICS_VERSION

    golden = json.loads(GOLDEN.read_text())
    regenerate = "regenerate with: PYTHONPATH=src python tests/test_numerics.py --write"
    assert golden["numerics_version"] == NUMERICS_VERSION, (
        f"NUMERICS_VERSION is {NUMERICS_VERSION} but the golden runs are of version "
        f"{golden['numerics_version']}: {regenerate}"
    )
    got = trajectories()
    assert set(got) == set(golden["loss"]), regenerate
    for name, losses in got.items():
        assert losses == pytest.approx(golden["loss"][name], rel=RTOL), (
            f"golden run {name!r}: the training numbers changed. Bump spec.NUMERICS_VERSION "
            f"(runs of the old numerics then retrain) and {regenerate}"
        )


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    from ablate.spec.run_spec import NUMERICS_VERSION

    data = {"numerics_version": NUMERICS_VERSION, "loss": trajectories()}
    GOLDEN.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {GOLDEN} (numerics version {NUMERICS_VERSION})")
