"""The files the workflow writes while it parses, not as jobs: run specs, reference specs,
the study's manifest.

Each was once a Snakemake ``run:`` job. Snakemake runs such a job as a whole Snakemake
subprocess that parses the workflow again (about 1.4 s of CPU), so a study of 75 runs spent
about 100 s of core time on 75 spec files, beside the runs it trained. Written here instead,
in microseconds, and only when needed, so a no-op rerun writes nothing and changes no
file's modification time (Snakemake's rerun trigger):

- ``write_once``: a file whose name is derived from its content (a run's spec.yaml under its
  run id, a reference spec under its key) is written if absent, never rewritten;
- ``write_if_changed``: the manifest, rewritten only when the study changed.

Both write atomically (store/atomic.py), so two parses at once (a Slurm job's Snakemake
beside the main one) write the same bytes or nothing.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ablate.store.atomic import atomic_write_bytes


def spec_text(spec: dict) -> bytes:
    """A spec.yaml's bytes (RunSpec.to_dict() or a reference spec), as every writer writes it."""
    return yaml.safe_dump(spec, sort_keys=True).encode()


def write_once(path: str | Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` unless the file exists; whether it was written."""
    path = Path(path)
    if path.exists():
        return False
    atomic_write_bytes(path, data)
    return True


def write_if_changed(path: str | Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` unless the file holds exactly it; whether it was written."""
    path = Path(path)
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    atomic_write_bytes(path, data)
    return True
