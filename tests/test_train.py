"""One run end to end in-process: determinism, divergence, stalls, sanity, outputs."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from tiny_run import tiny_spec as spec

import ablate.train.loop as loop
import ablate.train.step as step_module
from ablate.spec.config import StatusRules
from ablate.spec.registry import CHOICES
from ablate.spec.run_spec import check_spec, resolve_spec
from ablate.store.collect import read_run
from ablate.store.tables import EXECUTION_COLUMNS, SUMMARY, TABLES
from ablate.train.sanity import overfit_one_batch


def judged(run_dir) -> dict:
    """The run's summary with the status collect gives it under the default rules."""
    return read_run(run_dir, StatusRules())[0]


def test_run_writes_every_table_with_documented_columns(tmp_path):
    summary = loop.train_run(spec(), tmp_path, log=lambda m: None)
    assert set(SUMMARY) == set(summary)
    for name, columns in TABLES.items():
        frame = pd.read_parquet(tmp_path / f"{name}.parquet")
        assert list(frame.columns) == list(columns)
        assert len(frame) > 0 or name == "samples"  # samples: text tasks only
    steps = pd.read_parquet(tmp_path / "steps.parquet")
    assert steps["step"].tolist() == list(range(1, 41))
    assert summary["initial_loss"] == pytest.approx(steps["loss"].iloc[0])
    # the per-group gradient norms decompose the global norm exactly
    grads = pd.read_parquet(tmp_path / "grads.parquet")
    combined = grads.groupby("step")["grad_norm"].apply(lambda g: math.sqrt((g**2).sum()))
    assert combined.to_numpy() == pytest.approx(steps["grad_norm"].to_numpy(), rel=1e-5)
    probes = pd.read_parquet(tmp_path / "probes.parquet")
    assert sorted(probes["step"].unique()) == [0, 20, 40]
    ent = probes[probes.metric == "attn_entropy"]
    assert len(ent) == 3 * 2 * 2  # probe steps x layers x heads
    assert ((ent.value >= 0) & (ent.value <= 1 + 1e-6)).all()


def test_same_spec_and_seed_give_bit_identical_metrics(tmp_path):
    a = loop.train_run(spec(), tmp_path / "a", log=lambda m: None)
    b = loop.train_run(spec(), tmp_path / "b", log=lambda m: None)
    for name in TABLES:
        fa = pd.read_parquet(tmp_path / "a" / f"{name}.parquet")
        fb = pd.read_parquet(tmp_path / "b" / f"{name}.parquet")
        keep = [c for c in fa.columns if c not in EXECUTION_COLUMNS]
        pd.testing.assert_frame_equal(fa[keep], fb[keep], check_exact=True)
    deterministic = {k for k in SUMMARY if k not in EXECUTION_COLUMNS}
    assert {k: a[k] for k in deterministic} == pytest.approx({k: b[k] for k in deterministic})
    c = loop.train_run(spec(seed=1), tmp_path / "c", log=lambda m: None)
    assert c["final_train_loss"] != a["final_train_loss"]


def test_injected_nan_stops_the_run_as_diverged_at_that_step(tmp_path, monkeypatch):
    calls = {"n": 0}
    real = step_module.masked_loss

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        loss, ce = real(*args, **kwargs)
        if calls["n"] == 13:
            nan = loss * float("nan")
            return nan, nan
        return loss, ce

    monkeypatch.setattr(step_module, "masked_loss", poisoned)
    summary = loop.train_run(spec(), tmp_path, log=lambda m: None)
    assert (summary["stopped"], summary["stopped_step"]) == ("diverged", 13)
    assert "nan" in summary["stopped_reason"]
    assert summary["steps_done"] == 13
    verdict = judged(tmp_path)
    assert (verdict["status"], verdict["status_step"]) == ("diverged", 13)
    steps = pd.read_parquet(tmp_path / "steps.parquet")
    assert len(steps) == 13 and math.isnan(steps["loss"].iloc[-1])


def test_initial_loss_is_near_ln_vocab(tmp_path):
    summary = loop.train_run(
        spec({"train.steps": 2, "train.warmup_steps": 1}), tmp_path, log=lambda m: None
    )
    assert summary["initial_loss_ok"], summary
    assert abs(summary["initial_loss"] - summary["ln_vocab"]) < 0.25


SANITY = {
    "model": {"d_model": 32, "n_layer": 2, "n_head": 4, "context": 32},
    "train": {"steps": 10, "warmup_steps": 0},
    "data": {"task": "induction", "seq_len": 32, "vocab": 16},
}


def sanity_variants():
    """The baseline plus every registered value of every model axis."""
    yield "baseline", {}
    for dotted, registry in CHOICES.items():
        if dotted.startswith("model."):
            for name in registry:
                extra = {"gqa": {"model.n_kv_head": 2}, "mup": {"model.mup_base_width": 16}}
                extra = extra.get(name, {})
                yield f"{dotted}={name}", {dotted: name} | extra
    yield "model.qk_norm=True", {"model.qk_norm": True}
    yield "model.window=8", {"model.window": 8}


@pytest.mark.parametrize(("name", "overrides"), list(sanity_variants()))
def test_sanity_overfits_one_batch_for_every_variant(name, overrides):
    sections = {k: dict(v) for k, v in SANITY.items()}
    for dotted, value in overrides.items():
        section, key = dotted.split(".")
        sections[section][key] = value
    result = overfit_one_batch(check_spec(resolve_spec(sections, 0)), steps=400)
    assert result.ok, result.message


@pytest.fixture(scope="session")
def shakespeare_root(repo_root):
    """The real corpus, fetched once into resources/ (as the pipeline does) if missing."""
    from ablate.data.fetch import fetch_corpus

    if not (repo_root / "resources" / "shakespeare_char" / "text.txt").exists():
        fetch_corpus("shakespeare_char", repo_root / "resources" / "shakespeare_char")
    return repo_root


@pytest.mark.slow
@pytest.mark.parametrize("placement", ["post", "pre"])
def test_post_ln_without_warmup_at_high_lr_stalls_while_pre_ln_trains(
    placement, shakespeare_root, tmp_path
):
    """Post-LN without warmup at lr 2e-2 (4 layers) sits at the unigram loss (no NaN, no
    spike) and must be judged 'stalled', not 'ok'; pre-LN at the same lr learns.

    Asserted with margins no CPU kind's rounding can flip: post-LN ends within 0.1 nats of
    the unigram loss (the stall line is 0.17 below it); pre-LN ends more than 0.3 nats
    below it (measured 2.84 against 3.33). Pre-LN's exact status is not asserted: its
    layer-0 entropy sits near the collapse threshold (0.046 on one CPU kind, above 0.05 on
    another), and that head pattern is a finding, not a failure to train."""
    sections = {
        "model": {
            "d_model": 64,
            "n_layer": 4,
            "n_head": 4,
            "context": 64,
            "norm_placement": placement,
        },
        "train": {
            "steps": 300,
            "batch_size": 16,
            "lr": 2e-2,
            "warmup_steps": 0,
            "eval_every": 300,
            "probe_every": 300,
        },
        "data": {"task": "shakespeare_char", "seq_len": 64},
    }
    loop.train_run(
        check_spec(resolve_spec(sections, 0)), tmp_path, root=shakespeare_root, log=lambda m: None
    )
    summary = judged(tmp_path)
    assert math.isfinite(summary["final_train_loss"]) and summary["stopped"] == ""
    if placement == "post":
        assert summary["status"] == "stalled", summary["reason"]
        assert summary["n_loss_spikes"] <= 5
        assert summary["final_train_loss"] == pytest.approx(summary["baseline_loss"], abs=0.1)
    else:
        assert summary["status"] not in {"stalled", "diverged"}, summary["reason"]
        assert summary["final_train_loss"] < summary["baseline_loss"] - 0.3


def test_setup_turns_on_deterministic_kernels():
    import torch

    from ablate.train.loop import setup

    before = torch.are_deterministic_algorithms_enabled()
    try:
        setup(spec(), threads=1)
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(before)
