"""The references through the real Snakemake: one job per data config, cached across
reruns and studies, gathered by the analysis and drawn by the report."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from ablate.analysis.analyse import COLUMNS
from ablate.data.references import ORDERS

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")

pytestmark = pytest.mark.slow

STUDY = {
    "study": "refs",
    "seeds": [0],
    "base": {
        "model": {"d_model": 16, "n_layer": 1, "n_head": 2, "context": 32},
        "train": {
            "steps": 8,
            "batch_size": 4,
            "warmup_steps": 2,
            "eval_every": 4,
            "eval_batches": 2,
            "probe_every": 4,
        },  # fmt: skip
        "data": {"task": "text_file", "path": "data/tiny.txt", "seq_len": 32},
    },
    # n_head=1 shares the baseline's data; seq_len=16 is a data config of its own
    "ablations": {"model.n_head": [1], "data.seq_len": [16]},
}


def snakemake(workdir: Path, *args: str) -> str:
    cmd = [str(SNAKEMAKE), "-s", str(ROOT / "Snakefile"), "--directory", str(workdir), *args]
    env = os.environ | {"PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def jobs(output: str, rule: str) -> int:
    match = re.search(rf"^{rule}\s+(\d+)\s*$", output, re.MULTILINE)
    return int(match.group(1)) if match else 0


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("refs")
    rng = np.random.default_rng(0)
    words = ["to ", "be ", "or ", "not ", "that ", "is ", "the ", "question.\n"]
    (workdir / "data").mkdir()
    (workdir / "data" / "tiny.txt").write_text("".join(rng.choice(words, size=3000)))
    (workdir / "config.yaml").write_text(yaml.safe_dump(STUDY, sort_keys=False))
    dry = snakemake(workdir, "-n")
    out = snakemake(workdir, "--cores", "2")
    return workdir, dry, out


def test_one_references_job_per_data_config(study):
    workdir, dry, _ = study
    assert jobs(dry, "references") == 2 and jobs(dry, "train") == 3
    files = sorted((workdir / "results" / "references").glob("*.parquet"))
    assert len(files) == 2
    for path in files:
        frame = pd.read_parquet(path)
        assert frame["reference"].tolist() == list(ORDERS.values())
        assert frame["seq_len"].nunique() == 1 and (frame["val_loss"] > 0).all()


def test_the_analysis_table_names_the_task_and_the_variants(study):
    workdir, _, _ = study
    refs = pd.read_parquet(workdir / "results" / "refs" / "analysis" / "references.parquet")
    assert list(refs.columns) == COLUMNS["references"]
    assert set(refs["task"]) == {"text_file"} and len(refs) == 2 * len(ORDERS)
    by_key = {key: sorted(rows["variants"].iloc[0]) for key, rows in refs.groupby("data_key")}
    assert sorted(by_key.values()) == [["baseline", "n_head=1"], ["seq_len=16"]]
    assert sorted(refs["seq_len"].unique()) == [16, 32]
    html = (workdir / "reports" / "refs.html").read_text()
    assert "full range" in html and "trigram" in html


def test_a_rerun_and_another_study_on_the_same_data_compute_nothing(study, tmp_path):
    workdir, _, _ = study
    assert "Nothing to be done" in snakemake(workdir, "--cores", "2")
    other = dict(STUDY, study="other", ablations={"model.d_model": [24]})
    path = tmp_path / "other.yaml"
    path.write_text(yaml.safe_dump(other))
    dry = snakemake(workdir, "-n", "--configfile", str(path))
    assert jobs(dry, "references") == 0 and jobs(dry, "analyse") == 1
