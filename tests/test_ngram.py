"""The n-gram references' maths (ablate.data.ngram): Kneser-Ney probabilities computed by
hand, normalisation, the vectorised code against a plain-Python one, the window rule."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from ablate.data.ngram import FALLBACK, KneserNey, discounts, window_log_probs
from ablate.data.tokenize import CharTokenizer

TOKENS = CharTokenizer("abcdr")  # a b c d r -> 0 1 2 3 4
ABRA = TOKENS.encode("abracadabra")


def p(model: KneserNey, history: str, token: str) -> float:
    grams = TOKENS.encode(history + token)[None, :]
    return float(np.exp(model.log_prob(grams))[0])


def test_kneser_ney_by_hand_on_abracadabra():
    """D = 0.75 everywhere. Unigram counts a5 b2 r2 c1 d1 (11); bigram counts ab2 br2 ra2
    ac1 ca1 ad1 da1; continuation counts of the unigrams (distinct left neighbours): a3
    (r, c, d) b1 c1 d1 r1, 7 in all; of the bigrams: 1 each (every one follows one token)."""
    m = KneserNey(ABRA, 5, 3, discount=0.75)
    # unigram model: (5 - 0.75) / 11 + (0.75 * 5 types / 11) / 5
    assert p(m, "", "a") == pytest.approx(5 / 11)
    assert p(m, "", "c") == pytest.approx(1 / 11)
    # lower-order unigram P'(a) = (3 - .75) / 7 + (.75 * 5 / 7) / 5 = 3/7; P'(b..r) = 1/7
    # bigram: c(a.) = 4 (ab ab ac ad), gamma(a) = .75 * 3 types / 4
    assert p(m, "a", "b") == pytest.approx((2 - 0.75) / 4 + 0.5625 * 1 / 7)  # 11/28
    assert p(m, "a", "a") == pytest.approx(0.5625 * 3 / 7)  # unseen after a: 27/112
    # trigram: c(ra.) = 1 (rac; the last "ra" ends the text), gamma(ra) = .75;
    # P'(c | a) = (1 - .75) / 3 + (.75 * 3 / 3) * 1/7 = 4/21 from the continuation bigrams
    assert p(m, "ra", "c") == pytest.approx(0.25 + 0.75 * 4 / 21)  # 11/28
    # a context never seen backs off entirely: P(. | cc) = P'(. | c), c(c.) = ca only
    assert p(m, "cc", "a") == pytest.approx(0.25 + 0.75 * 3 / 7)  # 4/7
    assert p(m, "cc", "c") == pytest.approx(0.75 * 1 / 7)  # 3/28


@pytest.mark.parametrize("discount", [0.75, None])
def test_every_distribution_sums_to_one_over_the_vocabulary(discount):
    """Seen and unseen contexts, and a token (5) the training text never has."""
    m = KneserNey(ABRA, 6, 4, discount=discount)
    for history in ([], [0], [4], [5], [0, 1], [2, 2], [5, 0], [0, 1, 4], [3, 3, 3], [1, 4, 0]):
        grams = np.array([[*history, w] for w in range(6)])
        probs = np.exp(m.log_prob(grams))
        assert probs.sum() == pytest.approx(1.0, abs=1e-12), history
        assert (probs > 0).all(), history  # the uniform floor: no token is impossible


def test_modified_discounts_from_the_count_of_counts():
    # n1 = 4, n2 = 2, n3 = 1, n4 = 1: Y = 4 / 8; D1 = 1 - 2Y n2/n1, D2 = 2 - 3Y n3/n2, ...
    d = discounts(np.array([1, 1, 1, 1, 2, 2, 3, 4, 9]))
    assert d == pytest.approx((0.5, 1.25, 1.0))
    assert discounts(np.array([1, 1, 2, 4])) == (FALLBACK,) * 3  # no count of 3: undefined
    assert discounts(np.array([50, 60, 70])) == (FALLBACK,) * 3  # a large corpus's unigrams


# ---------------------------------------------------------------- a plain-Python model


def slow_kneser_ney(train: list[int], vocab: int, order: int):
    """The formulas of ablate.data.ngram's docstring, written out with dicts and loops."""
    raw = {n: Counter(tuple(train[i : i + n]) for i in range(len(train) - n + 1)) for n in
           range(1, order + 1)}  # fmt: skip
    cont = {n: Counter(g[1:] for g in raw[n + 1]) for n in range(1, order)}

    def stats(table):
        d = discounts(np.array(list(table.values())))
        ctx: dict = {}
        for gram, c in table.items():
            total, mass = ctx.get(gram[:-1], (0, 0.0))
            ctx[gram[:-1]] = (total + c, mass + d[min(c, 3) - 1])
        return table, ctx, d

    tables = {("raw", n): stats(raw[n]) for n in raw} | {("cont", n): stats(cont[n]) for n in cont}

    def prob(kind: str, n: int, history: tuple, w: int) -> float:
        if n == 0:
            return 1 / vocab
        table, ctx, d = tables[kind, n]
        lower = prob("cont", n - 1, history[1:], w)
        if history not in ctx:
            return lower
        total, mass = ctx[history]
        c = table.get((*history, w), 0)
        return max(c - (d[min(c, 3) - 1] if c else 0), 0) / total + mass / total * lower

    return prob


def test_the_vectorised_model_equals_the_plain_one_on_windows():
    """A random second-order Markov text (so counts 1..4 all occur and the modified
    discounts are used): every position of every window, every order."""
    rng = np.random.default_rng(0)
    vocab, n = 6, 4000
    table = rng.dirichlet(np.full(vocab, 0.3), size=(vocab, vocab))
    text = [0, 1]
    for _ in range(n):
        text.append(int(rng.choice(vocab, p=table[text[-2], text[-1]])))
    train, val = text[:3500], np.array(text[3500:])
    model, slow = KneserNey(train, vocab, 4), slow_kneser_ney(train, vocab, 4)
    assert all(level.discounts != (FALLBACK,) * 3 for level in model.raw[2:])  # 3-, 4-grams
    windows = np.stack([val[s : s + 9] for s in range(0, 400, 37)])
    for order in range(1, 5):
        fast = window_log_probs(model, windows, order)
        for b, window in enumerate(windows.tolist()):
            for c in range(1, len(window)):
                history = tuple(window[max(0, c - order + 1) : c])
                expected = math.log(slow("raw", len(history) + 1, history, window[c]))
                assert fast[b, c - 1] == pytest.approx(expected, abs=1e-12), (order, b, c)


def test_a_position_sees_only_its_window():
    """The window "ra" cut out of "abra": its 'a' is scored by the bigram P(a | r), not the
    trigram P(a | br) that the text before the window would allow; "abra" at order 3 uses
    the bigram for its first target and the trigram after."""
    m = KneserNey(ABRA, 5, 3, discount=0.75)
    ra = window_log_probs(m, TOKENS.encode("ra")[None, :], 3)[0]
    assert math.exp(ra[0]) == pytest.approx(p(m, "r", "a"))
    assert p(m, "r", "a") != pytest.approx(p(m, "br", "a"))
    abra = np.exp(window_log_probs(m, TOKENS.encode("abra")[None, :], 3)[0])
    assert abra == pytest.approx([p(m, "a", "b"), p(m, "ab", "r"), p(m, "br", "a")])
    # the first target of a window at order 1 is the unigram, like every other target
    uni = np.exp(window_log_probs(m, TOKENS.encode("abra")[None, :], 1)[0])
    assert uni == pytest.approx([p(m, "", "b"), p(m, "", "r"), p(m, "", "a")])


def test_codes_that_would_overflow_int64_are_refused():
    with pytest.raises(ValueError, match="too large"):
        KneserNey([0, 1], 2**13, 5)
    with pytest.raises(ValueError, match="token ids"):
        KneserNey([0, 7], 5, 2)
