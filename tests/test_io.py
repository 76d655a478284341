"""Files the lab writes follow the process umask, and are replaced atomically."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ablate.store.atomic import atomic_write_bytes, write_json, write_parquet


@pytest.fixture(params=[0o022, 0o027, 0o002])
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_written_files_get_the_mode_the_umask_allows(tmp_path, umask):
    atomic_write_bytes(tmp_path / "a.bin", b"x")
    write_json(tmp_path / "sub" / "b.json", {"k": 1})
    write_parquet(tmp_path / "c.parquet", pd.DataFrame({"x": [1]}))
    # what a plain open() would give under the same umask
    with open(tmp_path / "plain", "w"):
        pass
    expected = mode(tmp_path / "plain")
    assert expected == 0o666 & ~umask
    for name in ("a.bin", "sub/b.json", "c.parquet"):
        assert mode(tmp_path / name) == expected, name


def test_a_write_that_fails_before_the_rename_leaves_the_old_file_and_no_temp(
    tmp_path, monkeypatch
):
    path = tmp_path / "table.json"
    write_json(path, {"v": 1})

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        write_json(path, {"v": 2})
    assert path.read_text() == '{\n  "v": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["table.json"]


@pytest.mark.parametrize(
    "module", ["ablate.store.collect", "ablate.analysis.analyse", "ablate.report.write"]
)
def test_collect_analysis_and_report_import_no_training_code(module):
    """They write through ablate.store.atomic; importing them must not pull in torch or ablate.train
    (a fresh interpreter: this one may have imported torch for other tests)."""
    code = (
        f"import sys, {module}; "
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('ablate.train')))"
    )
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
