"""A finished run's files, kept where Snakemake does not look: a finished run never trains twice.

Snakemake counts a job as done only once it has seen the job end. If Snakemake itself dies
in the second a run finishes (kill -9, the OOM killer, a power cut), its rerun treats the
run's outputs as those of an incomplete job: ``rerun-incomplete`` deletes them and starts
the job again. The same happens when a rerun trigger fires for a run that is already done.
So a finished run keeps a second name for each of its files in ``<run>/.finished/`` (hard
links: no second copy on disk; a copy where the file system has no hard links), which is
not a Snakemake output and survives that cleanup. The next ``ablate train`` of the run finds
them, puts them back and is done in well under a second, with the same bytes.

Order of writing, so no moment exists where the run looks finished and the kept set is not
complete: the tables and the weights in the run directory; then ``.finished.tmp/`` gets a
link to each and its own summary.json, and is renamed to ``.finished/``; then summary.json
is linked into the run directory (summary.json marks a complete run, store/integrity.py).

To train a finished run again, delete its directory (store/integrity.py's recompute command).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

from ablate.store.atomic import atomic_write_bytes, write_json
from ablate.store.integrity import RunDirError, verify_run_dir
from ablate.store.tables import RUN_FILES
from ablate.store.workflow_files import spec_text

KEPT = ".finished"
SUMMARY = "summary.json"
SPEC = "spec.yaml"  # written too (as the workflow writes it): the set is checked as a run


def finish(run_dir: Path, summary: dict, spec: dict) -> None:
    """Keep the run's files (all of RUN_FILES but summary.json are written already) and its
    spec (``RunSpec.to_dict()``), then write its summary.json: the last step of a run."""
    run_dir = Path(run_dir)
    staging, kept = run_dir / f"{KEPT}.tmp", run_dir / KEPT
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for name in RUN_FILES:
        if name != SUMMARY:
            _link(run_dir / name, staging / name)
    atomic_write_bytes(staging / SPEC, spec_text(spec))
    write_json(staging / SUMMARY, summary)
    shutil.rmtree(kept, ignore_errors=True)  # a stale set (its run was damaged and redone)
    os.replace(staging, kept)
    _put(kept / SUMMARY, run_dir / SUMMARY)


def restore(run_dir: Path, run_id: str) -> dict | None:
    """Put back the kept files of the finished run ``run_id``; its summary, or None if the
    run has no intact kept set (then it trains, and a partial or damaged set is discarded:
    the same checks as before collecting a run, store/integrity.py)."""
    run_dir, kept = Path(run_dir), Path(run_dir) / KEPT
    if not kept.is_dir():
        return None
    try:
        verify_run_dir(kept, run_id)
    except RunDirError:
        shutil.rmtree(kept, ignore_errors=True)
        return None
    for name in RUN_FILES:  # summary.json first in RUN_FILES: put it back last
        if name != SUMMARY:
            _put(kept / name, run_dir / name)
    _put(kept / SUMMARY, run_dir / SUMMARY)
    return json.loads((kept / SUMMARY).read_text())


def _put(source: Path, target: Path) -> None:
    """``target`` becomes another name of ``source``, atomically (a link under a temporary
    name, then a rename over whatever is there)."""
    tmp = target.with_name(f".{target.name}.restore.tmp")
    tmp.unlink(missing_ok=True)
    _link(source, tmp)
    os.replace(tmp, target)


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # no hard links here (some network and FAT file systems): a copy
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        shutil.copy2(source, target)
