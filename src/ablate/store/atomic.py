"""Writing files atomically, with the permissions the user asked for. No torch, no pandas
at import time: the DAG layer, collect, analysis and report all import this module.

Each file goes to a temporary name in the same folder and is renamed into place, so a
crash mid-write leaves at most a stray ``.*.tmp`` file, never a truncated table. Temporary
files from ``mkstemp`` are created mode 0600; the final file gets ``0666 & ~umask`` like any
file the process would create with ``open()``, so a group on a shared cluster (umask 002 or
027) can read the results.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def current_umask() -> int:
    """The process umask. Reading it means setting it: restore at once (single-threaded)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # on disk before the rename: a power cut leaves old or new
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def json_bytes(obj: Any) -> bytes:
    """JSON as the lab writes it: sorted keys, indented, a final newline."""
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()


def write_json(path: str | Path, obj: Any) -> None:
    atomic_write_bytes(path, json_bytes(obj))


def write_parquet(path: str | Path, frame) -> None:
    """A pandas DataFrame as Parquet (no index column)."""
    atomic_write_bytes(path, frame.to_parquet(index=False))


def write_arrow(path: str | Path, table) -> None:
    """A pyarrow Table as Parquet, its schema (and the pandas metadata in it) as given."""
    import io

    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    atomic_write_bytes(path, buffer.getvalue())
