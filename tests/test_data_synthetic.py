"""Synthetic tasks: every target checked against a direct computation, masks exactly on the
answers, and the seeding contract (same seed and step -> same batch, eval sets fixed)."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch

from ablate.data.build import build_task
from ablate.spec.config import DataConfig
from ablate.spec.run_spec import resolve_spec

SYNTHETIC = ["copy", "reverse", "sort", "mqar", "induction", "modadd"]
SMALL = {"vocab": 16, "length": 5, "n_pairs": 2, "seq_len": 16, "modulus": 11}


def task(name, **overrides):
    return build_task(DataConfig(task=name, **(SMALL | overrides)))


def all_sets(t, batch_size=8, n_batches=2):
    """(x, y, mask) of two train batches and of every eval set."""
    out = [t.train_batch(0, step, batch_size) for step in (1, 2)]
    return out + [b for es in t.eval_sets(batch_size, n_batches) for b in es.batches]


def rows(x, y, mask):
    """Per row: the full sequence (x then the last target) and the scored y positions."""
    for b in range(x.shape[0]):
        seq = [*x[b].tolist(), int(y[b, -1])]
        yield seq, torch.nonzero(mask[b]).flatten().tolist()


@pytest.mark.parametrize(
    "name, rule", [("copy", list), ("reverse", lambda s: s[::-1]), ("sort", sorted)]
)
def test_sequence_tasks_targets_and_masks(name, rule):
    t = task(name)
    assert t.vocab_size == SMALL["vocab"] + 1 and t.seq_len == 2 * SMALL["length"]
    lengths = set()
    for x, y, mask in all_sets(t):
        assert torch.equal(x[:, 1:], y[:, :-1])  # y is x shifted by one
        length = x.shape[1] // 2
        lengths.add(length)
        for seq, scored in rows(x, y, mask):
            source, sep, target = seq[:length], seq[length], seq[length + 1 :]
            assert sep == SMALL["vocab"] and max(source) < SMALL["vocab"]
            assert target == list(rule(source))
            assert scored == list(range(length, 2 * length))  # y[t] = target[t - L]
    assert lengths == {5, 10, 20}  # training length, then 2x and 4x (eval_multipliers)


def test_mqar_answers_are_the_values_of_the_queried_keys():
    t = task("mqar")
    n_keys = SMALL["vocab"] // 2
    assert t.vocab_size == SMALL["vocab"] + 1
    assert t.baseline_loss == pytest.approx(math.log(SMALL["vocab"] - n_keys))
    seen_pairs = set()
    for x, y, mask in all_sets(t):
        n_pairs = SMALL["n_pairs"] * x.shape[1] // SMALL["seq_len"]
        seen_pairs.add(n_pairs)
        for seq, scored in rows(x, y, mask):
            keys, values = seq[0 : 2 * n_pairs : 2], seq[1 : 2 * n_pairs : 2]
            assert len(set(keys)) == n_pairs and max(keys) < n_keys
            assert all(n_keys <= v < SMALL["vocab"] for v in values)
            table = dict(zip(keys, values, strict=True))
            assert sorted(seq[t] for t in scored) == sorted(keys)  # each key asked once
            assert all(seq[t + 1] == table[seq[t]] for t in scored)
            assert min(scored) >= 2 * n_pairs  # queries come after the pairs
            rest = set(range(2 * n_pairs, len(seq))) - {p for t in scored for p in (t, t + 1)}
            assert {seq[p] for p in rest} <= {SMALL["vocab"]}  # the rest is pad
    assert seen_pairs == {2, 4, 8}


def test_induction_scored_tokens_follow_their_only_earlier_occurrence():
    t = task("induction", vocab=32, seq_len=64)
    assert t.vocab_size == 33 and t.seq_len == 64 and t.segment == 16  # + pad
    for x, y, mask in all_sets(t):
        for seq, scored in rows(x, y, mask):
            assert len(scored) == t.segment - 1
            content = [tok for tok in seq if tok != t.pad]  # the rest is pad
            assert len(content) == 2 * t.segment and t.pad == 32
            assert scored == list(range(scored[0], scored[0] + len(scored)))  # one run
            for pos in scored:
                earlier = [j for j in range(pos) if seq[j] == seq[pos]]
                assert len(earlier) == 1  # the copy is determined: no ambiguous match
                assert seq[pos + 1] == seq[earlier[0] + 1]  # the induction rule


def test_modadd_answers_and_held_out_pairs():
    t = task("modadd")
    p = SMALL["modulus"]
    assert t.vocab_size == p + 1 and t.seq_len == 3
    train = set()
    for step in range(1, 30):
        x, y, mask = t.train_batch(0, step, 16)
        assert (x[:, 2] == p).all() and torch.equal(y[:, :2], x[:, 1:])
        assert torch.equal(y[:, 2], (x[:, 0] + x[:, 1]) % p)
        assert mask.tolist() == [[False, False, True]] * 16
        train |= {(a, b) for a, b in x[:, :2].tolist()}
    (held,) = t.eval_sets(8, 3)
    held_list = [tuple(r) for x, _, _ in held.batches for r in x[:, :2].tolist()]
    held_pairs = set(held_list)
    for x, y, _ in held.batches:
        assert torch.equal(y[:, 2], (x[:, 0] + x[:, 1]) % p)
    n_train = round(0.5 * p * p)
    assert len(held_list) == len(held_pairs) == p * p - n_train  # every held-out pair, once
    assert not train & held_pairs  # training never sees a held-out pair
    assert len(train) > n_train * 0.8  # and does cover (most of) its own share
    # baseline: entropy of the answers over the training pairs (all pairs but the held out)
    counts = Counter((a + b) % p for a in range(p) for b in range(p) if (a, b) not in held_pairs)
    expected = -sum(c / n_train * math.log(c / n_train) for c in counts.values())
    assert t.baseline_loss == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", SYNTHETIC)
def test_batches_are_a_pure_function_of_seed_and_step(name):
    a, b = task(name), task(name)  # two independent instances
    x1, y1, m1 = a.train_batch(3, 7, 8)
    for x2, y2, m2 in (a.train_batch(3, 7, 8), b.train_batch(3, 7, 8)):
        assert torch.equal(x1, x2) and torch.equal(y1, y2) and torch.equal(m1, m2)
    assert not torch.equal(x1, a.train_batch(4, 7, 8)[0])  # another seed
    assert not torch.equal(x1, a.train_batch(3, 8, 8)[0])  # another step
    assert x1.dtype == y1.dtype == torch.long and m1.dtype == torch.bool
    assert x1.shape == y1.shape == m1.shape == (8, a.seq_len)


@pytest.mark.parametrize("name", SYNTHETIC)
def test_eval_sets_are_fixed_and_not_from_the_training_stream(name):
    sets_a = task(name).eval_sets(8, 2)
    sets_b = task(name).eval_sets(8, 2)
    train = {tuple(r) for s in range(3) for st in range(1, 4) for r in
             task(name).train_batch(s, st, 8)[0].tolist()}  # fmt: skip
    for ea, eb in zip(sets_a, sets_b, strict=True):
        assert ea.seq_len == ea.batches[0][0].shape[1]
        for (xa, ya, ma), (xb, yb, mb) in zip(ea.batches, eb.batches, strict=True):
            assert torch.equal(xa, xb) and torch.equal(ya, yb) and torch.equal(ma, mb)
            assert xa.max() < task(name).vocab_size  # vocab fixed at every length
            if name != "modadd":  # (modadd's 3-token rows are held out by construction)
                assert not {tuple(r) for r in xa.tolist()} & train
    probe = task(name).probe_batch()
    assert probe.shape == (4, task(name).seq_len)
    assert torch.equal(probe, task(name).probe_batch())


def test_non_data_keys_do_not_change_the_batches():
    def data_of(model, train):
        return resolve_spec({"model": model, "train": train, "data": {"task": "mqar"}}, 0).data

    a = build_task(data_of({"d_model": 32, "pos": "rope"}, {"lr": 1e-2}))
    b = build_task(data_of({"d_model": 96, "n_layer": 4}, {"steps": 10}))
    for step in (1, 50):
        for ta, tb in zip(a.train_batch(0, step, 4), b.train_batch(0, step, 4), strict=True):
            assert torch.equal(ta, tb)


def test_bad_settings_raise_naming_the_key():
    with pytest.raises(ValueError, match=r"data\.n_pairs=9 is too many for data\.vocab=16"):
        task("mqar", n_pairs=9, seq_len=64)
    with pytest.raises(ValueError, match=r"data\.seq_len=7 is too short for mqar"):
        task("mqar", n_pairs=2, seq_len=7)
    with pytest.raises(ValueError, match=r"data\.seq_len=4 is too short for induction"):
        task("induction", seq_len=4)
