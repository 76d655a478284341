"""`ablate tensorboard`: the study's per-step scalars read back by TensorBoard's own reader
equal the Parquet tables, one safe folder per run, and a rerun gives the same files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fake_study import default_runs, fake_runs, run_row, write_study

from ablate.report.tensorboard_export import (
    MANIFEST,
    MissingExtra,
    export_tensorboard,
    run_folder,
    run_scalars,
    safe_name,
    unsafe_name,
)

pytest.importorskip("tensorboard", reason="the tensorboard extra: pip install -e '.[tensorboard]'")
from tensorboard.backend.event_processing import event_accumulator  # noqa: E402

KEYS = ["task", "variant", "seed"]


def read_back(run_dir: Path) -> dict[str, pd.DataFrame]:
    """tag -> (step, value) as TensorBoard loads the folder, every point kept."""
    acc = event_accumulator.EventAccumulator(
        str(run_dir), size_guidance={event_accumulator.SCALARS: 0}
    )
    acc.Reload()
    return {
        tag: pd.DataFrame([(e.step, e.value) for e in acc.Scalars(tag)], columns=["step", "value"])
        for tag in acc.Tags()["scalars"]
    }


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return write_study(tmp_path_factory.mktemp("tb") / "fake", default_runs())


@pytest.fixture(scope="module")
def exported(study):
    out = study.parent / "tb"
    return out, export_tensorboard(study, out)


def expected(study: Path, key: tuple) -> dict[str, pd.DataFrame]:
    """The tags of one run straight from the Parquet tables, the sample of each kind."""
    task, variant, seed = key

    def rows(name):
        t = pd.read_parquet(study / f"{name}.parquet")
        return t[(t.task == task) & (t.variant == variant) & (t.seed == seed)]

    def series(frame, column):
        return frame[["step", column]].set_axis(["step", "value"], axis=1)

    steps, grads, evals, probes = (rows(n) for n in ("steps", "grads", "evals", "probes"))
    out = {f"train/{c}": series(steps, c) for c in ("loss", "lr", "grad_norm")}
    out["grad_norm/embedding"] = series(grads[grads.module == "embedding"], "grad_norm")
    attn = grads[(grads.layer == 0) & (grads.module == "attention")]
    out["grad_norm/layer0.attention"] = series(attn, "grad_norm")
    short, long = evals.seq_len.min(), evals.seq_len.max()
    for metric in ("loss", "token_acc", "seq_acc", "bpc"):
        out[f"val/{metric}"] = series(evals[evals.seq_len == short], metric)
        out[f"val_len{long}/{metric}"] = series(evals[evals.seq_len == long], metric)
    first = probes[probes["layer"] == 0]  # probes.head is DataFrame.head: index the column
    for metric, how in (("attn_entropy", "min"), ("attn_logit_max", "max")):
        head = first[(first["head"] == 0) & (first.metric == metric)]
        out[f"{metric}/layer0.head0"] = series(head, "value")
        each = probes[(probes.metric == metric) & (probes["head"] >= 0)]
        out[f"{metric}/{how}"] = each.groupby("step", as_index=False)["value"].agg(how)
    out["resid_rms/layer0"] = series(first[first.metric == "resid_rms"], "value")
    return out


def test_every_run_has_its_folder_and_every_scalar_equals_the_tables(study, exported):
    out, folders = exported
    runs = pd.read_parquet(study / "runs.parquet")
    assert len(folders) == len(runs) == len(set(folders))
    for key in runs[KEYS].itertuples(index=False, name=None):
        folder = out / run_folder(*key)
        assert folder.is_dir() and len(list(folder.glob("events.out.tfevents.*"))) == 1
        got, want = read_back(folder), expected(study, key)
        layers = runs.set_index(KEYS).loc[key, "model.n_layer"]
        assert len(got) >= len(want) + (layers - 1) * 2  # more layers, more tags
        for tag, table in want.items():
            assert tag in got, (key, tag)
            assert got[tag]["step"].tolist() == table["step"].tolist(), (key, tag)
            # simple_value is float32; the tables hold float64
            np.testing.assert_allclose(
                got[tag]["value"], table["value"].astype(np.float32), rtol=1e-6, equal_nan=True
            )


def test_a_diverged_run_keeps_its_nan_and_its_shorter_curve(study, exported):
    out, _ = exported
    got = read_back(out / run_folder("shakespeare_char", "lr=0.03", 1))
    assert len(got["train/loss"]) == 30 and np.isnan(got["train/loss"]["value"].iloc[-1])


def test_all_nan_tags_and_skipped_evals_are_left_out(tmp_path):
    short = {"train.steps": 40, "train.eval_every": 20, "train.probe_every": 20}
    study = write_study(tmp_path / "s", fake_runs([run_row("baseline", 0, short)]))
    evals = pd.read_parquet(study / "evals.parquet")
    evals["bpc"] = np.nan  # a synthetic task has none
    longer = evals.seq_len > evals.seq_len.min()
    evals.loc[longer, "note"] = "longer than the context"
    evals.loc[longer, ["loss", "token_acc"]] = np.nan
    evals.to_parquet(study / "evals.parquet")
    tags = set(run_scalars(study)[1]["tag"])
    assert "val/loss" in tags and not {t for t in tags if "bpc" in t or "_len" in t}


def test_variant_names_map_to_safe_unique_reversible_folders(exported):
    out, folders = exported
    assert "shakespeare_char/size+d_model=32,n_layer=1/seed=0" in folders
    names = ["size/d_model=32,n_layer=1", "size+d_model=32", "a/b", "a+b", "a%2Fb", "..", "."]
    names += ["x=[1, 2]", "ünïcode", "a\\b", "w=none"]
    for name in names:
        folder = safe_name(name)
        assert unsafe_name(folder) == name
        assert "/" not in folder and "\\" not in folder and folder not in (".", "..")
        assert all(c.isascii() and (c.isalnum() or c in "=,+%._-~") for c in folder), folder
    assert len({safe_name(n) for n in names}) == len(names)
    for path in out.rglob("*"):  # nothing outside run folders but the manifest
        rel = path.relative_to(out).as_posix()
        assert rel == MANIFEST or any(f.startswith(rel) or rel.startswith(f) for f in folders)


def test_a_second_export_gives_the_same_files_and_drops_runs_left_out(study, tmp_path):
    out = tmp_path / "tb"
    export_tensorboard(study, out)
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (out / "notes.txt").write_text("mine")  # not ours: kept
    keep = out / run_folder("induction", "baseline", 0) / "keep.txt"
    keep.write_text("mine too")
    beside = tmp_path / "beside.txt"
    beside.write_text("outside")
    export_tensorboard(study, out)
    again = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert again == first | {Path("notes.txt"): b"mine", keep.relative_to(out): b"mine too"}
    # fewer runs now: the dropped runs' folders go, the files not ours stay
    small = write_study(tmp_path / "small", default_runs().query("task == 'induction'"))
    kept = export_tensorboard(small, out)
    left = {p.parent.relative_to(out).as_posix() for p in out.rglob("events.out.tfevents.*")}
    assert left == set(kept) and len(kept) == 6
    assert not (out / "shakespeare_char").exists()
    assert keep.exists() and (out / "notes.txt").exists() and beside.exists()
    manifest = json.loads((out / MANIFEST).read_text())
    assert [r["folder"] for r in manifest["runs"]] == kept


def test_a_missing_extra_names_the_install_command(study, tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m.startswith("tensorboard")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard fails
    with pytest.raises(MissingExtra, match=r"pip install -e '\.\[tensorboard\]'"):
        export_tensorboard(study, tmp_path / "tb")
    assert not (tmp_path / "tb").exists()


def test_the_cli_writes_what_tensorboard_reads(study, tmp_path):
    out = tmp_path / "tb"
    cmd = [sys.executable, "-m", "ablate", "tensorboard", str(study), "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "48 runs written" in done.stdout and "tensorboard --logdir" in done.stdout
    got = read_back(out / run_folder("shakespeare_char", "size/d_model=32,n_layer=1", 2))
    assert len(got["train/loss"]) == 60 and len(got["val/loss"]) == 3
    missing = subprocess.run(
        [*cmd[:4], str(tmp_path / "nothing"), "--out", str(out)], capture_output=True, text=True
    )
    assert missing.returncode == 1 and "runs.parquet is missing" in missing.stderr
