"""A tuned study through the real Snakemake (study/tuning.py): the tuning checkpoint, the
comparison at the chosen values, caching, and what one more grid value retrains."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
LR = "train.lr"

pytestmark = pytest.mark.slow

CONFIG = {
    "study": "tuned",
    "seeds": [0, 1],
    "base": {
        "model": {"d_model": 16, "n_layer": 1, "n_head": 2, "context": 32},
        "train": {"steps": 30, "batch_size": 8, "warmup_steps": 5, "eval_every": 10,
                  "eval_batches": 2, "probe_every": 10, "lr": 3.0e-3},
        "data": {"task": "induction", "seq_len": 32, "vocab": 16},
    },
    "ablations": {"model.n_head": [1]},
    "tune": {LR: [1.0e-3, 3.0e-2], "seeds": [100]},
}  # fmt: skip


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [str(SNAKEMAKE), "-s", str(ROOT / "Snakefile"), "--directory", str(workdir)]
    env = os.environ | {"PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(cmd + list(args), capture_output=True, text=True, env=env)
    done.out = done.stdout + done.stderr
    return done


def write_config(workdir: Path, config: dict) -> None:
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def trained(workdir: Path) -> dict[str, int]:
    """run id -> mtime of its summary.json (rewritten: trained again)."""
    runs = workdir / "results" / "runs"
    return {p.parent.name: p.stat().st_mtime_ns for p in runs.glob("*/summary.json")}


def choice(workdir: Path) -> dict:
    data = json.loads((workdir / "results" / "tuned" / "tuning" / "choice.json").read_text())
    return {c["variant"]: c["point"][LR] for c in data["choices"]}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tuned")
    write_config(workdir, CONFIG)
    dry = snakemake(workdir, "-n")
    assert dry.returncode == 0, dry.out
    done = snakemake(workdir, "--cores", "2")
    assert done.returncode == 0, done.out
    return workdir, dry.out


def test_a_dry_run_lists_the_tuning_runs_and_counts_the_comparison_runs(study):
    _, dry = study
    assert re.search(r"^train\s+4\s*$", dry, re.MULTILINE), dry  # 2 variants x 2 lrs x 1 seed
    assert re.search(r"^tune\s+1\s*$", dry, re.MULTILINE), dry
    assert "estimate: 8 runs, 0 cached, 8 to train (4 of them after tuning" in dry


def test_the_comparison_runs_carry_the_chosen_values_and_only_they_are_compared(study):
    workdir, _ = study
    out = workdir / "results" / "tuned"
    runs = pd.read_parquet(out / "runs.parquet")
    tune, compare = runs[runs["stage"] == "tune"], runs[runs["stage"] == "compare"]
    assert len(tune) == 4 and set(tune["seed"]) == {100}
    assert len(compare) == 4 and set(compare["seed"]) == {0, 1}
    chosen = choice(workdir)
    assert set(chosen) == {"baseline", "n_head=1"}
    for _, r in compare.iterrows():
        spec = yaml.safe_load((workdir / "results" / "runs" / r.run_id / "spec.yaml").read_text())
        assert spec["train"]["lr"] == chosen[r.variant] == r[LR]
    # the choice is the lower mean val loss over the tuning runs (one seed: the lower loss)
    for variant, g in tune.groupby("variant"):
        ok = g[g["status"] == "ok"]
        if len(ok) == 2:
            assert chosen[variant] == ok.sort_values("final_val_loss")[LR].iloc[0]
    table = pd.read_parquet(out / "analysis" / "tuning.parquet")
    assert dict(zip(table.loc[table["chosen"], "variant"], table.loc[table["chosen"], "value"],
                    strict=True)) == chosen  # fmt: skip
    assert table["at_edge"].all()  # a 2-value grid: every choice is at an edge
    # every statistic from the comparison runs only: the study seeds, nothing else
    steps = pd.read_parquet(out / "steps.parquet")
    assert set(steps["run_id"]) == set(compare["run_id"])
    seeds = pd.read_parquet(out / "analysis" / "seeds.parquet")
    assert (seeds["n_runs"] == 2).all(), seeds
    board = pd.read_parquet(out / "analysis" / "leaderboard.parquet")
    assert set(board["variant"]) == {"baseline", "n_head=1"}
    html = (workdir / "reports" / "tuned.html").read_text()
    assert "Tuning" in html and "widen it" in html


def test_a_rerun_with_everything_cached_does_nothing(study):
    workdir, _ = study
    done = snakemake(workdir, "--cores", "2")
    assert done.returncode == 0 and "Nothing to be done" in done.out, done.out


def test_one_more_grid_value_trains_its_tuning_runs_and_the_changed_choices_only(study):
    workdir, _ = study
    before, chosen_before = trained(workdir), choice(workdir)
    wider = copy.deepcopy(CONFIG)
    wider["tune"][LR] = [1.0e-3, 3.0e-3, 3.0e-2]
    write_config(workdir, wider)
    try:
        dry = snakemake(workdir, "-n")
        assert re.search(r"^train\s+2\s*$", dry.out, re.MULTILINE), dry.out  # the new value
        done = snakemake(workdir, "--cores", "2")
        assert done.returncode == 0, done.out
        after, chosen_after = trained(workdir), choice(workdir)
        assert all(after[k] == v for k, v in before.items())  # nothing trained twice
        new = set(after) - set(before)
        runs = pd.read_parquet(workdir / "results" / "tuned" / "runs.parquet")
        new_tune = set(runs.loc[(runs["stage"] == "tune") & (runs[LR] == 3.0e-3), "run_id"])
        changed = {v for v in chosen_after if chosen_after[v] != chosen_before[v]}
        compare = runs[runs["stage"] == "compare"]
        new_compare = set(compare.loc[compare["variant"].isin(changed), "run_id"])
        assert new == new_tune | new_compare
        assert len(new_tune) == 2 and len(new_compare) == 2 * len(changed)
    finally:
        write_config(workdir, CONFIG)


LADDER = copy.deepcopy(CONFIG) | {
    "study": "tuned_ladder",
    "seeds": [0],
    "ablations": {},
    "scaling": {"model.d_model": [8, 16, 24], "variants": ["baseline"]},
}


def test_a_tuned_ladder_tunes_every_rung_and_trains_each_at_its_own_choice(tmp_path):
    write_config(tmp_path, LADDER)
    done = snakemake(tmp_path, "--cores", "2")
    assert done.returncode == 0, done.out
    out = tmp_path / "results" / "tuned_ladder"
    data = json.loads((out / "tuning" / "choice.json").read_text())
    chosen = {c["variant"]: c["point"][LR] for c in data["choices"]}
    assert set(chosen) == {"baseline", "baseline@d_model=8", "baseline@d_model=24"}
    runs = pd.read_parquet(out / "runs.parquet")
    compare = runs[runs["stage"] == "compare"]
    assert sorted(compare["model.d_model"]) == [8, 16, 24]
    for _, r in compare.iterrows():  # every rung at its own chosen lr
        assert r[LR] == chosen[r["variant"]]
    table = pd.read_parquet(out / "analysis" / "tuning.parquet")
    assert set(table.loc[table["rung"], "variant"]) == {"baseline@d_model=8", "baseline@d_model=24"}
    ladder = pd.read_parquet(out / "analysis" / "scaling_variants.parquet")
    assert set(ladder["variant"]) == {"baseline"} and (ladder["n_sizes"] == 3).all()
    html = (tmp_path / "reports" / "tuned_ladder.html").read_text()
    assert "were tuned each on their own" in html
