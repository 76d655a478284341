"""Text tasks on a small local file: tokenizers round-trip, the 90/10 split, windows taken
from the right split, the unigram baseline, and the seeding contract."""

from __future__ import annotations

import math
import random
from collections import Counter

import numpy as np
import pytest
import torch

from ablate.data import sources
from ablate.data.build import build_task
from ablate.data.sources import data_file_errors
from ablate.data.tokenize import ByteTokenizer, CharTokenizer
from ablate.spec.config import DataConfig


@pytest.fixture
def corpus(tmp_path):
    """1,000 characters of pseudo-text (fixed seed) with a multi-byte character in it."""
    rng = random.Random(0)
    words = ["to", "be", "or", "not", "that", "is", "the", "question", "café"]
    text = ""
    while len(text) < 1000:
        text += rng.choice(words) + rng.choice([" ", " ", "\n", ", "])
    text = text[:1000]
    (tmp_path / "input.txt").write_text(text, encoding="utf-8")
    return tmp_path, text


def text_task(corpus, **overrides):
    root, _ = corpus
    return build_task(DataConfig(task="text_file", path="input.txt", seq_len=16, **overrides), root)


def test_char_tokenizer_round_trips_and_sorts_its_vocab():
    text = "To be, or not to be: ¿qué? ✓\n"
    tok = CharTokenizer.from_text(text)
    assert tok.chars == "".join(sorted(set(text))) and tok.vocab_size == len(set(text))
    ids = tok.encode(text)
    assert ids.tolist() == [tok.chars.index(c) for c in text]
    assert tok.decode(ids) == text
    with pytest.raises(KeyError, match="not in the vocabulary"):
        tok.encode("Z")


def test_byte_tokenizer_round_trips_utf8():
    text = "naïve ✓"
    tok = ByteTokenizer.from_text(text)
    ids = tok.encode(text)
    assert tok.vocab_size == 256 and ids.tolist() == list(text.encode("utf-8"))
    assert tok.decode(ids) == text


def test_split_is_90_10_and_vocab_is_the_texts_characters(corpus):
    _, text = corpus
    t = text_task(corpus)
    assert (len(t.train), len(t.val)) == (900, 100)
    assert t.vocab_size == len(set(text)) and t.kind == "text" and t.chars_per_token == 1.0
    assert t.decode(t.train) + t.decode(t.val) == text
    assert (len(text_task(corpus, val_fraction=0.25).val)) == 250


def test_byte_tokens_give_chars_per_token_below_one(corpus):
    _, text = corpus
    t = text_task(corpus, tokenizer="byte")
    n_bytes = len(text.encode("utf-8"))
    assert t.vocab_size == 256 and n_bytes > len(text)
    assert t.chars_per_token == pytest.approx(len(text) / n_bytes)
    assert len(t.train) == int(n_bytes * 0.9)


def test_byte_tokenizer_takes_a_binary_file_byte_for_byte(tmp_path):
    raw = bytes(b for b in range(256) if b != ord("\r")) * 2  # no "\r": text mode keeps all
    (tmp_path / "data.bin").write_bytes(raw)
    data = DataConfig(task="text_file", path="data.bin", tokenizer="byte", seq_len=16)
    t = build_task(data, tmp_path)
    assert torch.cat([t.train, t.val]).tolist() == list(raw)


@pytest.mark.parametrize("tokenizer", ["char", "byte"])
def test_the_file_check_counts_the_tokens_training_makes(tmp_path, monkeypatch, tokenizer):
    """The DAG's length check (sources.data_file_errors) must agree with TextTask, which
    reads in text mode ("\r\n" -> "\n"); tiny chunks cut pairs and characters in two."""
    raw = "ab\r\ncé\r\rx\n\r\n✓ ".encode() * 7 + (b"\xff\r" if tokenizer == "byte" else b"")
    (tmp_path / "f.txt").write_bytes(raw)
    monkeypatch.setattr(sources, "CHUNK", 3)
    data = DataConfig(task="text_file", path="f.txt", tokenizer=tokenizer, seq_len=4)
    t = build_task(data, tmp_path)
    n_tokens = len(t.train) + len(t.val)
    assert data_file_errors(data, tmp_path) == []
    # a seq_len one longer than the validation split allows fails both, with the same count
    too_long = DataConfig(**{**data.__dict__, "seq_len": len(t.val)})
    (message,) = data_file_errors(too_long, tmp_path)
    assert f"its {n_tokens} tokens split into {len(t.train)} train and {len(t.val)} " in message
    with pytest.raises(ValueError, match="too long for the val split"):
        build_task(too_long, tmp_path)


def test_baseline_is_the_unigram_entropy_of_the_train_split(corpus):
    _, text = corpus
    t = text_task(corpus)
    counts = Counter(text[:900])
    expected = -sum(c / 900 * math.log(c / 900) for c in counts.values())
    assert t.baseline_loss == pytest.approx(expected, rel=1e-12)


def test_train_windows_come_from_train_and_eval_windows_from_val(corpus):
    _, text = corpus
    t = text_task(corpus)
    train_text, val_text = text[:900], text[900:]
    x, y, mask = t.train_batch(0, 1, 32)
    assert x.shape == y.shape == mask.shape == (32, 16) and mask.all()
    assert torch.equal(x[:, 1:], y[:, :-1])
    for row_x, row_y in zip(x, y, strict=True):
        window = t.decode(row_x) + t.decode(row_y[-1:])
        assert window in train_text
    (val,) = t.eval_sets(batch_size=4, n_batches=3)
    assert val.seq_len == 16 and val.note == "" and len(val.batches) == 3
    starts = []
    for vx, vy, vm in val.batches:
        assert vm.all() and vx.shape == (4, 16)
        for row_x, row_y in zip(vx, vy, strict=True):
            window = t.decode(row_x) + t.decode(row_y[-1:])
            starts.append(val_text.index(window))
    # evenly spaced from the first to the last full window of the val split
    assert starts[0] == 0 and starts[-1] == 100 - 17
    assert np.ptp(np.diff(starts)) <= 1
    probe = t.probe_batch()
    assert probe.shape == (4, 16) and t.decode(probe[0]) == val_text[:16]


def test_text_batches_are_a_pure_function_of_seed_and_step(corpus):
    a, b = text_task(corpus), text_task(corpus)
    x = a.train_batch(1, 5, 8)[0]
    assert torch.equal(x, b.train_batch(1, 5, 8)[0])
    assert not torch.equal(x, a.train_batch(2, 5, 8)[0])
    assert not torch.equal(x, a.train_batch(1, 6, 8)[0])
    va, vb = a.eval_sets(4, 2)[0], b.eval_sets(4, 2)[0]
    assert all(torch.equal(p[0], q[0]) for p, q in zip(va.batches, vb.batches, strict=True))


def test_missing_file_and_too_long_seq_len_are_clear(corpus, tmp_path):
    root, _ = corpus
    with pytest.raises(FileNotFoundError, match="nowhere.txt"):
        build_task(DataConfig(task="text_file", path="nowhere.txt"), root)
    with pytest.raises(FileNotFoundError, match="ablate fetch shakespeare_char"):
        build_task(DataConfig(task="shakespeare_char"), tmp_path / "empty")
    with pytest.raises(ValueError, match=r"data\.seq_len=100 is too long for the val split"):
        build_task(DataConfig(task="text_file", path="input.txt", seq_len=100), root)
