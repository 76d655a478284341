"""A finished run never trains twice (train/finished.py): its files are kept under
<run>/.finished/, and a rerun of its job (Snakemake died before it saw the job end, or a
rerun trigger fired) puts them back, the same bytes, without training."""

from __future__ import annotations

import os
from pathlib import Path

from test_resume import make_spec

import ablate.train.loop as loop
from ablate.spec.run_spec import spec_hash
from ablate.store.tables import RUN_FILES
from ablate.train.finished import KEPT, restore


def train(spec, out: Path) -> list[str]:
    lines: list[str] = []
    loop.train_run(spec, out, log=lines.append)
    return lines


def test_a_finished_run_keeps_a_second_name_for_each_file(tmp_path):
    out = tmp_path / "run"
    train(make_spec(steps=20), out)
    for name in RUN_FILES:
        kept, file = out / KEPT / name, out / name
        assert kept.read_bytes() == file.read_bytes()
        assert os.path.samefile(kept, file)  # hard links: no second copy on disk
    assert (out / KEPT / "spec.yaml").is_file()


def test_outputs_deleted_as_snakemake_does_come_back_without_training(tmp_path):
    spec, out = make_spec(steps=20), tmp_path / "run"
    train(spec, out)
    before = {name: (out / name).read_bytes() for name in RUN_FILES}
    for name in RUN_FILES:  # rerun-incomplete removes a job's outputs before rerunning it
        (out / name).unlink()
    lines = train(spec, out)
    assert any(line.startswith("restored:") for line in lines), lines
    assert not any(line.startswith(("run:", "step ")) for line in lines), lines
    assert {name: (out / name).read_bytes() for name in RUN_FILES} == before


def test_a_damaged_kept_set_is_discarded_and_the_run_trains_again(tmp_path):
    spec, out = make_spec(steps=20), tmp_path / "run"
    train(spec, out)
    steps = out / "steps.parquet"
    steps.write_bytes(steps.read_bytes()[:50])  # in place: both names see the damage
    lines = train(spec, out)
    assert any(line.startswith("run:") for line in lines), lines  # trained from the spec
    assert not any(line.startswith("restored:") for line in lines)


def test_a_kept_set_of_another_run_is_never_restored(tmp_path):
    out = tmp_path / "run"
    train(make_spec(steps=20, seed=0), out)
    other = make_spec(steps=20, seed=1)
    assert restore(out, spec_hash(other)) is None
    assert not (out / KEPT).exists()  # not this run's: discarded


def test_an_incomplete_kept_set_is_never_restored(tmp_path):
    spec, out = make_spec(steps=20), tmp_path / "run"
    train(spec, out)
    (out / KEPT / "model.safetensors").unlink()
    assert restore(out, spec_hash(spec)) is None
