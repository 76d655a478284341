"""Bad input stops a study before any job starts, with the key and the value named, and
nothing in results/ touched (issue #10, item 5).

CASES is the catalogue: a valid config, one mutation, and the text the error must hold.
Every case goes through ``expand_study`` (what Snakemake's dry run calls) and through
``ablate expand``; a representative few go through the real ``snakemake -n`` as well.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ablate.cli import main as ablate
from ablate.data.sources import data_file_errors
from ablate.spec.config import DataConfig
from ablate.study.expand import ConfigError, expand_study

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")

# A valid study: a synthetic task, so only the cases that ask for a file need one.
VALID = {
    "study": "bad_input",
    "seeds": [0, 1],
    "base": {
        "model": {"d_model": 16, "n_layer": 1, "n_head": 2, "context": 32},
        "train": {"steps": 10, "warmup_steps": 2},
        "data": {"task": "induction", "seq_len": 32, "vocab": 16},
    },
    "ablations": {"model.n_head": [1]},
    "grids": {"size": {"model.d_model": [8, 24]}},
}
TEXT = "to be, or not to be: that is the question\n" * 10  # 420 characters of UTF-8
BINARY = b"GIF\xff\x00\x01" * 100  # not UTF-8: byte 0xff at offset 3


def write_files(root: Path) -> None:
    """The files the data.path cases name, relative to the directory jobs would run in."""
    (root / "input.txt").write_text(TEXT, encoding="utf-8")
    (root / "data.bin").write_bytes(BINARY)
    (root / "cut.txt").write_bytes(TEXT.encode() + "é".encode()[:1])  # ends inside a char
    (root / "empty.txt").write_bytes(b"")
    (root / "folder").mkdir()


# Mutations: each returns a function that changes a copy of VALID in place.
def set_study(name):
    return lambda c: c.update(study=name)


def set_seeds(seeds):
    return lambda c: c.update(seeds=seeds)


def put(section: str, **values):
    """Add entries to a top-level section (ablations, grids)."""
    return lambda c: c[section].update(values)


def put_base(section: str, **values):
    """Set keys of base.model, base.train or base.data."""
    return lambda c: c["base"][section].update(values)


def set_tasks(**tasks):
    return lambda c: c.update(tasks=tasks)


def text_file(path: str | None, **data):
    """base.data becomes a text_file task reading ``path`` (seq_len 16 fits model.context)."""
    return lambda c: c["base"].update(
        data={"task": "text_file", "path": path, "seq_len": 16} | data
    )


CASES = [
    # study: a path component of results/<study>/ and reports/<study>.html
    ("study-parent", set_study("../x"), "study='../x' is not a safe name"),
    ("study-absolute", set_study("/abs"), "study='/abs' is not a safe name"),
    ("study-subdir", set_study("a/b"), "study='a/b' is not a safe name"),
    ("study-dotdot", set_study(".."), "study='..' is not a safe name"),
    ("study-dot", set_study("."), "study='.' is not a safe name"),
    ("study-inner-dotdot", set_study("a..b"), "study='a..b' is not a safe name"),
    ("study-empty", set_study(""), "study='' is not a safe name"),
    ("study-space", set_study("my study"), "study='my study' is not a safe name"),
    ("study-shell", set_study("x;rm -rf ~"), "study='x;rm -rf ~' is not a safe name"),
    ("study-option", set_study("-n"), "study='-n' is not a safe name"),
    ("study-runs", set_study("runs"), "study='runs' is reserved: results/runs/"),
    ("study-Runs", set_study("Runs"), "study='Runs' is reserved"),
    ("study-readme", set_study("README.md"), "study='README.md' is reserved"),
    ("study-long", set_study("a" * 101), "is too long: 101 characters"),
    ("study-int", set_study(3), "study: 3 is not of type 'string'"),
    ("config-empty", lambda c: c.clear(), "'study' is a required property"),
    # seeds
    ("seeds-negative", set_seeds([-1]), "seeds.0=-1 must be in [0, 4294967295]"),
    ("seeds-duplicate", set_seeds([0, 0]), "seeds: [0, 0] has non-unique elements"),
    ("seeds-empty", set_seeds([]), "seeds: [] should be non-empty"),
    ("seeds-string", set_seeds(["a"]), "seeds.0: 'a' is not of type 'integer'"),
    ("seeds-float", set_seeds([1.5]), "seeds.0: 1.5 is not of type 'integer'"),
    ("seeds-bool", set_seeds([True]), "seeds.0: True is not of type 'integer'"),
    ("seeds-huge", set_seeds([2**64]), "seeds.0=18446744073709551616 must be in [0, 4294967295]"),
    ("seeds-scalar", set_seeds(3), "seeds: 3 is not of type 'array'"),
    # ablations
    ("ablation-unknown-key", put("ablations", **{"model.d_modle": [8]}), "model.d_modle=8"),
    ("ablation-unknown-section", put("ablations", **{"optim.lr": [1]}), "ablations: 'optim.lr'"),
    ("ablation-empty", put("ablations", **{"model.n_layer": []}), "ablations.model.n_layer: []"),
    ("ablation-scalar", put("ablations", **{"model.n_layer": 3}), "ablations.model.n_layer: 3"),
    ("ablation-wrong-type", put("ablations", **{"model.n_layer": ["two"]}), "model.n_layer='two'"),
    (
        "ablation-duplicate",
        put("ablations", **{"model.n_layer": [3, 3]}),
        "ablations.model.n_layer=3 makes variant 'n_layer=3' a second time",
    ),
    (
        "ablation-same-name",
        put("ablations", **{"train.lr": [1, 1.0]}),
        "ablations.train.lr=1.0 makes variant 'lr=1' a second time",
    ),
    ("ablation-nan", put("ablations", **{"train.lr": [float("nan")]}), "train.lr=nan must be"),
    ("ablation-inf", put("ablations", **{"model.rope_base": [float("inf")]}), "rope_base=inf"),
    # grids
    ("grid-empty-axis", put("grids", g={"model.n_layer": []}), "grids.g.model.n_layer: []"),
    ("grid-empty", put("grids", g={}), "grids.g: {} should be non-empty"),
    ("grid-unknown-key", put("grids", g={"model.foo": [1]}), "unknown key model.foo=1"),
    (
        "grid-duplicate",
        put("grids", g={"model.n_layer": [3, 3]}),
        "grids.g (model.n_layer=3) makes variant 'g/n_layer=3' a second time",
    ),
    ("grid-bad-name", put("grids", **{"a/b": {"model.n_layer": [3]}}), "grids: 'a/b'"),
    # tasks
    (
        "tasks-select-nothing",
        set_tasks(t={"variants": ["nope"]}),
        "tasks.t.variants: 'nope' matches no variant",
    ),
    (
        "tasks-pattern-typo",
        set_tasks(t={"variants": ["baseline", "n_haed=*"]}),
        "tasks.t.variants: 'n_haed=*' matches no variant",
    ),
    ("tasks-empty-variants", set_tasks(t={"variants": []}), "tasks.t.variants: []"),
    ("tasks-wrong-type", set_tasks(t={"data": {"seq_len": "x"}}), "tasks.t.data.seq_len: 'x'"),
    ("tasks-unknown-key", set_tasks(t={"modle": {}}), "tasks.t.modle: unknown key"),
    # wrong types in nested sections
    ("base-model-list", lambda c: c["base"].update(model=[1]), "base.model: [1] is not of type"),
    ("base-train-null", lambda c: c["base"].update(train=None), "base.train: None is not of type"),
    ("train-lr-string", put_base("train", lr="1e-3"), "base.train.lr: '1e-3'"),
    ("train-lr-inf", put_base("train", lr=float("inf")), "train.lr=inf must be"),
    ("model-d_model-16.0", put_base("model", d_model=16.0), "model.d_model=16.0"),
    ("model-d_model-16.5", put_base("model", d_model=16.5), "base.model.d_model: 16.5"),
    (
        "data-multipliers-str",
        put_base("data", eval_multipliers="x"),
        "base.data.eval_multipliers: 'x'",
    ),
    # data.path of a text_file task (relative paths: from the directory jobs run in)
    ("path-unset", text_file(None), "data.path is required for data.task='text_file'"),
    ("path-missing", text_file("missing.txt"), "data.path='missing.txt' does not exist"),
    ("path-missing-abs", text_file("/no/such/file.txt"), "data.path='/no/such/file.txt' does not"),
    ("path-directory", text_file("folder"), "data.path='folder' is not a regular file"),
    (
        "path-binary-char",
        text_file("data.bin"),
        "data.path='data.bin' is not UTF-8 text (byte 0xff at offset 3); use data.tokenizer: byte",
    ),
    (
        "path-cut-char",
        text_file("cut.txt"),
        "data.path='cut.txt' is not UTF-8 text (byte 0xc3 at offset 420)",
    ),
    (
        "path-empty-file",
        text_file("empty.txt"),
        "data.path='empty.txt' is too short for data.seq_len=16: its 0 tokens",
    ),
    (
        "path-too-short",
        text_file("input.txt", seq_len=30, val_fraction=0.05),
        "data.path='input.txt' is too short for data.seq_len=30: its 420 tokens split into "
        "399 train and 21 validation tokens",
    ),
    (
        "path-other-task",
        put_base("data", path="input.txt"),
        "data.path='input.txt' is only read by data.task='text_file'",
    ),
]


def mutated(mutate) -> dict:
    config = copy.deepcopy(VALID)
    mutate(config)
    return config


@pytest.mark.parametrize(("mutate", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_config_names_key_and_value(mutate, expected, tmp_path, monkeypatch, capsys):
    write_files(tmp_path)
    config = mutated(mutate)
    with pytest.raises(ConfigError) as error:
        expand_study(config, root=tmp_path)
    assert expected in str(error.value)
    # `ablate expand CONFIG` reads relative data paths from the working directory
    monkeypatch.chdir(tmp_path)
    Path("study.yaml").write_text(yaml.safe_dump(config))
    assert ablate(["expand", "study.yaml"]) == 2
    assert expected in capsys.readouterr().err


def test_the_valid_config_and_good_files_pass(tmp_path):
    write_files(tmp_path)
    assert len(expand_study(VALID)) == 4 * 2  # 4 variants x 2 seeds
    assert expand_study(mutated(text_file("input.txt")), root=tmp_path)
    # under the byte tokenizer any file is fine, binary or not
    assert expand_study(mutated(text_file("data.bin", tokenizer="byte")), root=tmp_path)
    data = DataConfig(task="text_file", path="data.bin", tokenizer="byte", seq_len=16)
    assert data_file_errors(data, tmp_path) == []
    # a corpus's cache is missing until Snakemake's fetch_corpus job writes it
    assert expand_study(mutated(text_file("resources/canterbury/text.txt")), root=tmp_path)


def test_unreadable_file_is_named(tmp_path, monkeypatch):
    """Emulated: root (as in CI containers) reads a chmod 000 file anyway."""
    write_files(tmp_path)
    real_open = Path.open

    def no_permission(self, *args, **kwargs):
        if self.name == "input.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", no_permission)
    with pytest.raises(
        ConfigError, match=r"data.path='input.txt' cannot be read: Permission denied"
    ):
        expand_study(mutated(text_file("input.txt")), root=tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file; emulated above")
def test_unreadable_file_is_named_for_real(tmp_path):
    write_files(tmp_path)
    (tmp_path / "input.txt").chmod(0)
    with pytest.raises(ConfigError, match=r"data.path='input.txt' cannot be read"):
        expand_study(mutated(text_file("input.txt")), root=tmp_path)


# The real Snakemake dry run: bad input fails in the DAG, named, no traceback, no output.
SNAKEMAKE_CASES = {
    "study-parent": (set_study("../x"), "study='../x'"),
    "study-runs": (set_study("runs"), "study='runs' is reserved"),
    "path-missing": (text_file("missing.txt"), "data.path='missing.txt' does not exist"),
    "path-binary-char": (text_file("data.bin"), "data.path='data.bin' is not UTF-8 text"),
    # with --config seeds=[a]:
    "seeds-command-line": (set_seeds([0]), "seeds.0: 'a' is not of type 'integer'"),
}


def dry_run(tmp_path: Path, config: dict, *args: str) -> tuple[subprocess.CompletedProcess, Path]:
    """`snakemake -n` on a study, in a fresh working directory holding an older output."""
    work = tmp_path / "work"
    work.mkdir()
    write_files(work)
    (work / "results").mkdir()
    (work / "results" / "older.txt").write_text("an earlier study's output\n")
    configfile = tmp_path / "study.yaml"
    configfile.write_text(yaml.safe_dump(config))
    cmd = [str(SNAKEMAKE), "-s", str(ROOT / "Snakefile"), "--directory", str(work)]
    cmd += ["-n", "--configfile", str(configfile), *args]
    env = os.environ | {"PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(cmd, capture_output=True, text=True, env=env), work


@pytest.mark.slow
@pytest.mark.parametrize("case", list(SNAKEMAKE_CASES))
def test_snakemake_dry_run_stops_before_any_job(case, tmp_path):
    mutate, expected = SNAKEMAKE_CASES[case]
    args = ["--config", "seeds=[a]"] if case == "seeds-command-line" else []
    result, work = dry_run(tmp_path, mutated(mutate), *args)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert expected in output and "Traceback" not in output, output
    results = sorted(p.relative_to(work) for p in (work / "results").rglob("*"))
    assert results == [Path("results/older.txt")]  # nothing written or removed
    assert not (work / "reports").exists()


@pytest.mark.slow
def test_snakemake_dry_run_accepts_a_binary_file_under_byte(tmp_path):
    config = mutated(text_file("data.bin", tokenizer="byte"))
    result, _ = dry_run(tmp_path, config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "data.bin" in result.stdout  # the train jobs read it, relative to --directory
