"""Tokenizers of the text tasks: characters or UTF-8 bytes. NumPy only (no torch).

Both are built from the text (``from_text``) so the registry can treat them alike; both
encode a whole corpus in one vectorised pass (a Python loop over 5 M characters is slow).
"""

from __future__ import annotations

import numpy as np


class CharTokenizer:
    """One token per character; the vocabulary is the sorted set of the text's characters."""

    def __init__(self, chars: str):
        if len(set(chars)) != len(chars):
            raise ValueError("CharTokenizer: vocabulary characters must be distinct")
        self.chars = "".join(sorted(chars))
        # sorted code points: encoding is a binary search per character
        self._codes = _code_points(self.chars)

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        return cls("".join(sorted(set(text))))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        codes = _code_points(text)
        ids = np.searchsorted(self._codes, codes)
        ok = ids < len(self._codes)
        ok[ok] = self._codes[ids[ok]] == codes[ok]
        if not ok.all():
            bad = sorted({text[i] for i in np.flatnonzero(~ok)[:10]})
            raise KeyError(f"characters not in the vocabulary: {bad!r}")
        return ids.astype(np.int64)

    def decode(self, ids) -> str:
        return "".join(self.chars[i] for i in np.asarray(ids).ravel())


class ByteTokenizer:
    """One token per UTF-8 byte: a fixed vocabulary of 256, any text encodes."""

    vocab_size = 256

    @classmethod
    def from_text(cls, text: str) -> ByteTokenizer:
        return cls()

    def encode(self, text: str) -> np.ndarray:
        # surrogateescape: the raw bytes of a non-UTF-8 file read with that handler (TextTask)
        raw = text.encode("utf-8", errors="surrogateescape")
        return np.frombuffer(raw, dtype=np.uint8).astype(np.int64)

    def decode(self, ids) -> str:
        return bytes(np.asarray(ids, dtype=np.uint8).ravel().tolist()).decode(
            "utf-8", errors="replace"
        )


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
