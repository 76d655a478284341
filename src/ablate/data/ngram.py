"""Count-based n-gram models with interpolated modified Kneser-Ney smoothing. NumPy only.

The yardstick a transformer's loss on a text task is read against. Fitted on one token
stream (the train split); an order-k model predicts a token from the k - 1 before it:

    P_k(w | h) = max(c(hw) - D(c(hw)), 0) / c(h) + gamma(h) * P'_{k-1}(w | h')
    gamma(h)   = (D1 N1(h.) + D2 N2(h.) + D3 N3+(h.)) / c(h)

h' is h without its first token; c(h) = sum_w c(hw); Nr(h.) counts the tokens w with
c(hw) = r (N3+: r >= 3). The lower orders P' are the same formula with continuation
counts N1+(.hw) (how many distinct tokens precede hw) in place of c(hw), down to
P'_1(w) = max(N1+(.w) - D, 0) / N1+(..) + gamma * 1 / V: every token of the vocabulary keeps
some probability. A context never seen (c(h) = 0) backs off entirely: P_k = P'_{k-1}.
That is modified Kneser-Ney, interpolated (Chen & Goodman 1999, "An empirical study of
smoothing techniques for language modeling"). The three discounts of each order and kind
(raw counts at the top, continuation counts below) are their estimates from the
count-of-counts n_r (how many n-grams have count r):

    Y = n1 / (n1 + 2 n2);  D1 = 1 - 2Y n2/n1;  D2 = 2 - 3Y n3/n2;  D3 = 3 - 4Y n4/n3

Where those are undefined or out of range (n_r = 0, as for the unigram counts of a large
corpus or any tiny one), that level uses one absolute discount FALLBACK for every count.
The train stream has no sentence marks: its first tokens simply have no left context.

Everything is vectorised (a Python loop over 5 M characters is slow): an n-gram is
one int64 code (base-V digits), counts come from np.unique, look-ups from np.searchsorted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FALLBACK = 0.75  # the usual fixed absolute discount (Jurafsky & Martin, SLP ch. 3)


@dataclass(frozen=True)
class Level:
    """The counts of one n-gram length, raw or continuation, and their contexts' totals."""

    grams: np.ndarray  # sorted int64 codes of the n-grams with a count > 0
    counts: np.ndarray  # their counts
    contexts: np.ndarray  # sorted codes of the contexts (the n-gram without its last token)
    total: np.ndarray  # c(h): sum of the counts per context
    mass: np.ndarray  # D1 N1(h.) + D2 N2(h.) + D3 N3+(h.): what gamma(h) hands down
    discounts: tuple[float, float, float]  # D1, D2, D3+

    def prob(self, codes: np.ndarray, lower: np.ndarray, vocab: int) -> np.ndarray:
        """P(w | h) at this level for n-gram codes, given P'(w | h') one level below."""
        count = _lookup(self.grams, self.counts, codes)
        ctx = _lookup(self.contexts, np.arange(len(self.contexts)), codes // vocab, missing=-1)
        seen = ctx >= 0
        total = np.where(seen, self.total[ctx], 1.0)  # 1: any value, unseen contexts back off
        d = np.asarray((0.0, *self.discounts))[np.minimum(count, 3)]
        own = np.maximum(count - d, 0.0) / total
        gamma = np.where(seen, self.mass[ctx] / total, 1.0)
        return np.where(seen, own, 0.0) + gamma * lower


def discounts(counts: np.ndarray) -> tuple[float, float, float]:
    """Chen & Goodman's D1, D2, D3+ from the count-of-counts, else FALLBACK for each."""
    n1, n2, n3, n4 = (int(np.count_nonzero(counts == r)) for r in (1, 2, 3, 4))
    if min(n1, n2, n3, n4) == 0:
        return (FALLBACK,) * 3
    y = n1 / (n1 + 2 * n2)
    d = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    if not all(0 < di <= r for r, di in enumerate(d, start=1)):
        return (FALLBACK,) * 3
    return d


def level(grams: np.ndarray, counts: np.ndarray, vocab: int, fixed: float | None) -> Level:
    """A Level from sorted n-gram codes and their counts; ``fixed``: one discount for all."""
    d = (fixed,) * 3 if fixed is not None else discounts(counts)
    # codes are sorted, so their contexts (code // V) come sorted too: a group per context
    contexts, inverse = np.unique(grams // vocab, return_inverse=True)
    per_count = np.asarray((0.0, *d))[np.minimum(counts, 3)]
    total = np.bincount(inverse, weights=counts, minlength=len(contexts))
    mass = np.bincount(inverse, weights=per_count, minlength=len(contexts))
    return Level(grams, counts, contexts, total, mass, d)


class KneserNey:
    """Interpolated modified Kneser-Ney models of every order 1..``order`` of one stream.

    ``discount``: None for Chen & Goodman's estimates, or one absolute discount for every
    count and level (classic interpolated Kneser-Ney; the tests' hand-computed case).
    """

    def __init__(self, ids, vocab: int, order: int, discount: float | None = None):
        ids = np.asarray(ids, dtype=np.int64)
        if vocab**order >= 2**63:
            raise ValueError(f"vocabulary {vocab} is too large for {order}-gram int64 codes")
        if len(ids) and not 0 <= ids.min() <= ids.max() < vocab:
            raise ValueError(f"token ids must lie in 0..{vocab - 1}")
        self.vocab, self.order = vocab, order
        unique, codes = [], ids
        for n in range(1, order + 1):  # codes of every n-gram of the stream, then their counts
            if n > 1:
                codes = codes[:-1] * vocab + ids[n - 1 :]
            unique.append(np.unique(codes, return_counts=True))
        self.raw = [level(g, c, vocab, discount) for g, c in unique]  # raw[n - 1]: n-grams
        # continuation count of an n-gram: the distinct (n+1)-grams that end with it
        self.continuation = []
        for n in range(1, order):
            grams, counts = np.unique(unique[n][0] % vocab**n, return_counts=True)
            self.continuation.append(level(grams, counts, vocab, discount))

    def top_probs(self, codes: list[np.ndarray]) -> list[np.ndarray]:
        """codes[n - 1]: codes of the n tokens ending at each position (any shape, all alike).
        Returns, per n, P_n(last token | the n - 1 before it) of the order-n model."""
        lower = np.full(codes[0].shape, 1.0 / self.vocab)  # the uniform floor
        tops = []
        for n, code in enumerate(codes, start=1):
            tops.append(self.raw[n - 1].prob(code, lower, self.vocab))
            if n < len(codes):
                lower = self.continuation[n - 1].prob(code, lower, self.vocab)
        return tops

    def log_prob(self, grams) -> np.ndarray:
        """ln P_k(w | h) for rows [h_1 .. h_{k-1}, w] (shape (m, k), k <= order)."""
        grams = np.asarray(grams, dtype=np.int64)
        k = grams.shape[1]
        codes = [encode(grams[:, k - n :], self.vocab) for n in range(1, k + 1)]
        return np.log(self.top_probs(codes)[-1])

    def method(self, order: int) -> str:
        """A short text for the references table: the order-``order`` model and its
        top-level discounts."""
        d = self.raw[order - 1].discounts
        shown = (
            f"D={d[0]:.2f}" if len(set(d)) == 1 else "D1/D2/D3+=" + "/".join(f"{x:.2f}" for x in d)
        )
        if order == 1:
            return f"train-split token frequencies, {shown}, interpolated with uniform"
        return f"interpolated modified Kneser-Ney, {shown} at order {order}"


def encode(tokens: np.ndarray, vocab: int) -> np.ndarray:
    """(..., n) token ids -> (...) int64 codes: base-V digits, the first token highest."""
    code = np.zeros(tokens.shape[:-1], dtype=np.int64)
    for i in range(tokens.shape[-1]):
        code = code * vocab + tokens[..., i]
    return code


def window_log_probs(model: KneserNey, windows, order: int) -> np.ndarray:
    """ln P of every next token of (n, T + 1) windows: (n, T), entry t for windows[:, t + 1].

    A position sees only the tokens of its own window before it, as the transformer does:
    the target at column c has c tokens of history, so the first columns use the
    order-(c + 1) model (a unigram for the first target after the window's first token).
    """
    w = np.asarray(windows, dtype=np.int64)
    n_cols = w.shape[1]
    code = w
    codes = [code]  # codes[n - 1][:, c]: the n tokens ending at column c, -1 if c < n - 1
    for _ in range(2, order + 1):
        before = np.full_like(w, -1)  # -1: a code no n-gram has (its context backs off)
        before[:, 1:] = code[:, :-1]
        code = np.where(before >= 0, before * model.vocab + w, -1)
        codes.append(code)
    tops = model.top_probs(codes)
    out = np.log(tops[order - 1][:, 1:])
    for c in range(1, min(order - 1, n_cols)):  # too little history: the lower orders' tops
        out[:, c - 1] = np.log(tops[c][:, c])
    return out


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray, missing=0) -> np.ndarray:
    """values[i] where keys[i] == query (keys sorted), else ``missing``."""
    if len(keys) == 0:
        return np.full(query.shape, missing, dtype=values.dtype)
    i = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return np.where(keys[i] == query, values[i], missing)
