"""The user's cache directory: what the lab measures or builds once per machine and keeps
across checkouts (a machine's calibration, the report's JavaScript bundle).

``$XDG_CACHE_HOME/ablate``, else ``~/.cache/ablate`` (the XDG base directory rules: a
relative ``XDG_CACHE_HOME`` is ignored). Everything in it can be deleted: it is measured
or built again when next needed.
"""

from __future__ import annotations

import os
from pathlib import Path

from ablate.store.atomic import atomic_write_bytes


def user_cache_dir(*parts: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return root.joinpath("ablate", *parts)


def cached_text(path: Path, make) -> str:
    """The text in ``path``, else ``make()``, written there (atomically) for the next call.
    A cache that cannot be written (a read-only home) only costs the next call ``make()``."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        pass
    text = make()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, text.encode("utf-8"))
    except OSError:
        pass
    return text
