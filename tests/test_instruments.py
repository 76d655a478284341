"""The dynamics instruments inside a training run (train/instruments.py, spec.ProbeConfig):
they record what they promise, they never move the run's trajectory, and a resumed run
measures what an uninterrupted one does."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
from test_resume import assert_same_run, interrupt_at
from tiny_run import tiny_spec

import ablate.train.loop as loop
from ablate.probes.curvature import adam_preconditioner
from ablate.spec.run_spec import SpecError, check_spec, resolve_spec
from ablate.study.expand import ConfigError, expand_study
from ablate.train.interrupt import Interrupted

ALL_ON = {"probes.sharpness": True, "probes.sharpness_iters": 4, "probes.sharpness_batch": 4}
ALL_OFF = {"probes.sinks": False, "probes.noise_scale": False}


def _spec(overrides: dict):
    sections = {"probes": {}}
    base = tiny_spec().to_dict()
    for name in ("model", "train", "data"):
        sections[name] = dict(base[name])
    for dotted, value in overrides.items():
        section, key = dotted.split(".")
        sections[section][key] = value
    return check_spec(resolve_spec(sections, 0))


def read(run_dir, table: str) -> pd.DataFrame:
    return pd.read_parquet(run_dir / f"{table}.parquet")


@pytest.mark.parametrize("dropout", [0.0, 0.1])  # dropout: the instruments draw no RNG
def test_losses_are_bit_identical_with_every_instrument_on_and_off(tmp_path, dropout):
    on = _spec(ALL_ON | {"model.dropout": dropout})
    off = _spec(ALL_OFF | {"model.dropout": dropout})
    loop.train_run(on, tmp_path / "on", log=lambda m: None)
    loop.train_run(off, tmp_path / "off", log=lambda m: None)
    for table, columns in (("steps", ["loss", "grad_norm"]), ("evals", ["loss", "token_acc"])):
        a, b = read(tmp_path / "on", table), read(tmp_path / "off", table)
        pd.testing.assert_frame_equal(a[columns], b[columns], check_exact=True)
    ga, gb = read(tmp_path / "on", "grads"), read(tmp_path / "off", "grads")
    pd.testing.assert_frame_equal(ga, gb, check_exact=True)
    assert read(tmp_path / "off", "curvature").empty  # both off: no rows
    metrics = set(read(tmp_path / "off", "probes")["metric"])
    assert not metrics & {"sink_mass", "massive_ratio"}


def test_curvature_table_has_a_row_per_probe_with_its_thresholds(tmp_path):
    spec = _spec(ALL_ON | {"train.batch_size": 32})  # at 8, |G|^2 is below its noise
    loop.train_run(spec, tmp_path, log=lambda m: None)
    curv = read(tmp_path, "curvature")
    assert list(curv["step"]) == [0, 20, 40]  # probe_every 20, 40 steps
    assert (curv["batch_size"] == spec.train.batch_size).all()
    assert curv["eos_gd"].tolist() == pytest.approx((2 / curv["lr"]).tolist())
    beta1 = spec.train.beta1
    adam = (2 + 2 * beta1) / ((1 - beta1) * curv["lr"])
    assert curv["eos_adam"].tolist() == pytest.approx(adam.tolist())
    steps = read(tmp_path, "steps").set_index("step")["lr"]
    assert curv["lr"].iloc[1] == steps[21]  # the next step's lr: the one it is about
    assert (curv["sharpness"] > 0).all() and curv["sharpness"].map(math.isfinite).all()
    assert math.isnan(curv["sharpness_precond"].iloc[0])  # no Adam moments at init
    assert (curv["sharpness_precond"].iloc[1:] > 0).all()
    assert curv["noise_scale"].map(math.isfinite).all()
    ratio = curv["noise_trace"] / curv["noise_g2"]
    assert curv["noise_scale"].tolist() == pytest.approx(ratio.tolist())


def test_sink_and_massive_rows_per_head_and_layer(tmp_path):
    spec = _spec({})
    loop.train_run(spec, tmp_path, log=lambda m: None)
    probes = read(tmp_path, "probes")
    sinks = probes[probes["metric"] == "sink_mass"]
    layers, heads = spec.model.n_layer, spec.model.n_head
    assert len(sinks) == 3 * layers * heads  # 3 probes
    assert set(zip(sinks["layer"], sinks["head"], strict=True)) == {
        (layer, head) for layer in range(layers) for head in range(heads)
    }
    assert sinks["value"].between(0, 1).all()
    massive = probes[probes["metric"] == "massive_ratio"]
    assert len(massive) == 3 * layers and (massive["head"] == -1).all()
    uniform = probes[probes["metric"] == "sink_uniform"]["value"]
    t = 32  # induction, seq_len 32: the mean over queries i = 1..T-1 of 1 / (i + 1)
    assert uniform.tolist() == pytest.approx([sum(1 / (i + 1) for i in range(1, t)) / (t - 1)] * 3)
    assert (massive["value"] >= 1).all()  # max |h| is at least the median


def test_a_resumed_run_measures_what_an_uninterrupted_one_does(tmp_path):
    spec = _spec(ALL_ON)  # warm-start vectors and the noise scale's averages carry over
    loop.train_run(spec, tmp_path / "whole", log=lambda m: None)
    with pytest.raises(Interrupted):
        loop.train_run(spec, tmp_path / "cut", log=interrupt_at(26), checkpoint_every=1000)
    loop.train_run(spec, tmp_path / "cut", log=lambda m: None)
    assert_same_run(tmp_path / "whole", tmp_path / "cut")


def test_preconditioner_divides_by_each_groups_lr_multiplier():
    w, b = torch.nn.Parameter(torch.ones(3, 2)), torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.AdamW(
        [{"params": [w], "lr_mult": 0.25}, {"params": [b], "lr_mult": 1.0}], lr=0.1, eps=1e-8
    )
    (w.sum() * 2 + b.sum() * 3).backward()
    opt.step()
    pw, pb = adam_preconditioner(opt, [w, b])
    # after one step v_hat = g^2 exactly: P = (|g| + eps) / lr_mult
    assert torch.allclose(pw, torch.full_like(w, (2 + 1e-8) / 0.25))
    assert torch.allclose(pb, torch.full_like(b, 3 + 1e-8))


def test_instrument_batches_must_fit_the_training_batch():
    with pytest.raises(SpecError, match=r"probes.noise_micro_batches=16 must be at most train"):
        _spec({"probes.noise_micro_batches": 16})
    with pytest.raises(SpecError, match=r"probes.sharpness_batch=9 must be at most train"):
        _spec({"probes.sharpness": True, "probes.sharpness_batch": 9})
    _spec({"probes.noise_scale": False, "probes.noise_micro_batches": 16})  # off: no rule


def study(**extra) -> dict:
    base = tiny_spec().to_dict()
    return {
        "study": "instruments",
        "seeds": [0],
        "base": {k: base[k] for k in ("model", "train", "data")},
        "ablations": {"model.n_head": [1]},
    } | extra


def test_the_study_probes_key_reaches_every_run_and_nowhere_else():
    runs = expand_study(study(probes={"sharpness": True, "sharpness_batch": 4}))
    assert len(runs) == 2 and all(r.spec.probes.sharpness for r in runs)
    assert all(r.spec.probes.sharpness_batch == 4 for r in runs)
    with pytest.raises(ConfigError, match=r"base\.probes: unknown key"):
        expand_study(study() | {"base": study()["base"] | {"probes": {"sinks": False}}})
    with pytest.raises(ConfigError, match=r"probes\.sinks"):
        expand_study(study(ablations={"probes.sinks": [False]}))
    with pytest.raises(ConfigError, match=r"probes\.sharpness_iters=0 must"):
        expand_study(study(probes={"sharpness_iters": 0}))
