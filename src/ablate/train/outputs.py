"""Writing a run's files atomically: each file goes to a temp name, then is renamed.

A crash mid-write leaves at most a stray temp file, never a truncated table; summary.json
is written last, so its presence means the run's other files are complete.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pandas as pd

from ablate.tables import TABLES


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_table(path: Path, name: str, rows: list[dict]) -> None:
    """Write rows as Parquet with exactly the columns tables.TABLES[name] declares."""
    columns = list(TABLES[name])
    frame = pd.DataFrame(rows, columns=columns)
    atomic_write_bytes(path, frame.to_parquet(index=False))


def write_json(path: Path, obj: dict) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())
