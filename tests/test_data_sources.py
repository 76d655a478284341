"""The torch-free side of the data package: input files and config checks for the DAG."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ablate.data import sources
from ablate.data.sources import CORPORA, corpus_files, data_file_errors
from ablate.spec.config import DataConfig
from ablate.spec.constraints import check_data_config
from ablate.spec.registry import TASKS
from ablate.spec.task_lengths import seq_lens


def test_sources_import_without_torch(repo_root):
    code = "import sys, ablate.data.sources, ablate.data.fetch; print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(repo_root / "src")},
        check=True,
    )
    assert out.stdout.strip() == "False"


def test_corpus_files():
    assert corpus_files(DataConfig()) == ["resources/shakespeare_char/text.txt"]
    assert corpus_files(DataConfig(task="canterbury")) == ["resources/canterbury/text.txt"]
    assert corpus_files(DataConfig(task="text_file", path="data/input.txt")) == ["data/input.txt"]
    assert corpus_files(DataConfig(task="induction")) == []
    assert set(CORPORA) < set(TASKS)


def test_defaults_of_every_task_are_valid():
    for task in TASKS:
        extra = {"path": "input.txt"} if task == "text_file" else {}
        assert check_data_config(DataConfig(task=task, **extra)) == [], task


@pytest.mark.parametrize(
    "settings, expected",
    [
        ({"task": "nope"}, "data.task='nope' is not a known name; valid: shakespeare_char"),
        ({"task": "text_file"}, "data.path is required for data.task='text_file'"),
        ({"path": "x.txt"}, "data.path='x.txt' is only read by data.task='text_file'"),
        ({"seq_len": 0}, "data.seq_len=0 must be >= 1"),
        ({"tokenizer": "bpe"}, "data.tokenizer='bpe' is not a known name; valid: char, byte"),
        ({"val_fraction": 1.0}, "data.val_fraction=1.0 must be in (0, 1)"),
        ({"task": "copy", "length": 0}, "data.length=0 must be >= 1"),
        ({"task": "sort", "vocab": 2}, "data.vocab=2 must be >= 4"),
        ({"task": "copy", "eval_multipliers": [1, 2]}, "data.eval_multipliers=[1, 2] must all"),
        ({"task": "mqar", "n_pairs": 0}, "data.n_pairs=0 must be >= 1"),
        ({"task": "mqar", "n_pairs": 8, "seq_len": 31}, "data.seq_len=31 is too short for mqar"),
        ({"task": "mqar", "n_pairs": 5}, "data.n_pairs=5 is too many for data.vocab=32"),
        ({"task": "induction", "seq_len": 7}, "data.seq_len=7 is too short for induction"),
        ({"task": "modadd", "modulus": 1}, "data.modulus=1 must be >= 2"),
        ({"task": "modadd", "train_fraction": 0.0}, "data.train_fraction=0.0 must be in (0, 1)"),
        ({"task": "modadd", "modulus": 2, "train_fraction": 0.9}, "leaves 4 of 4 pairs"),
    ],
)
def test_bad_settings_are_named(settings, expected):
    errors = check_data_config(DataConfig(**settings))
    assert any(expected in e for e in errors), errors


def test_mqar_vocab_limit_counts_the_longest_eval_set():
    # 4 pairs x 4 (largest multiplier) = 16 keys = half of vocab 32: just fits
    assert check_data_config(DataConfig(task="mqar", n_pairs=4, vocab=32)) == []
    assert check_data_config(DataConfig(task="mqar", n_pairs=4, vocab=32, eval_multipliers=[8]))
    assert check_data_config(DataConfig(task="mqar", n_pairs=8, vocab=32))  # 8 x 4 = 32 keys
    # without longer eval sets 8 pairs fit (16 keys)
    assert not check_data_config(DataConfig(task="mqar", n_pairs=8, eval_multipliers=[]))


def test_seq_lens_follow_the_layouts():
    assert seq_lens(DataConfig(task="copy", length=8)) == [16, 32, 64]
    assert seq_lens(DataConfig(task="induction", seq_len=64)) == [64, 128, 256]
    assert seq_lens(DataConfig(task="mqar", seq_len=32, eval_multipliers=[2])) == [32, 64]
    assert seq_lens(DataConfig(task="modadd")) == [3]
    assert seq_lens(DataConfig(seq_len=128)) == [128]  # text: no longer eval sets


def test_utf8_offset_is_exact_across_chunks(tmp_path, monkeypatch):
    """A large file is decoded in chunks; the offset must not depend on where they fall."""
    raw = ("aé✓\r\n" * 50).encode() + b"\xe2\x9cx"  # a 3-byte character cut short
    (tmp_path / "f.txt").write_bytes(raw)
    with pytest.raises(UnicodeDecodeError) as error:  # Python's own decoder, in one piece
        raw.decode("utf-8")
    offset = error.value.start
    for chunk in (1, 2, 3, 5, 7, 1 << 20):
        monkeypatch.setattr(sources, "CHUNK", chunk)
        (message,) = data_file_errors(DataConfig(task="text_file", path="f.txt"), tmp_path)
        assert f"(byte 0xe2 at offset {offset})" in message, chunk
