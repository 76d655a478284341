"""Checkpoints: everything that decides the rest of a run, so a killed run resumes exactly.

A checkpoint holds the model and optimizer state, torch's RNG state, the records so far,
the probe snapshot and the counters: the rest of the run is then a function of the
checkpoint alone (batches depend only on the step), and a resumed run writes the same
tables, bit for bit, as one that was never interrupted (timing columns aside).

It lives in the run directory as ``checkpoint.pt``, which is not a Snakemake output, so it
survives Snakemake's cleanup of a failed or killed job; it is deleted once the run's
tables are written. Its identity (run id, numerics version, the device and its model) must
match the run that finds it, otherwise it is ignored and the run starts from step 0: a checkpoint of
another spec, code version or device is never used.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import torch

from ablate.spec.run_spec import NUMERICS_VERSION, RunSpec, spec_hash
from ablate.store.atomic import atomic_write_bytes

CHECKPOINT = "checkpoint.pt"


def identity(spec: RunSpec, device: str) -> dict:
    return {"run_id": spec_hash(spec), "numerics_version": NUMERICS_VERSION, "device": device}


def save_checkpoint(run_dir: Path, state: dict) -> None:
    """Write atomically: a kill during the write leaves the previous checkpoint intact."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(Path(run_dir) / CHECKPOINT, buffer.getvalue())


def load_checkpoint(run_dir: Path, expected: dict, log: Callable[[str], None]) -> dict | None:
    """The run's checkpoint if it exists, is readable and is this run's; else None."""
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        return None
    try:
        # plain containers and tensors only: no code runs while loading
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a torn or foreign file: never fatal, just not used
        log(f"ignoring {path}: unreadable ({type(err).__name__}: {err}); starting from step 0")
        return None
    found = state.get("identity") if isinstance(state, dict) else None
    if found != expected:
        log(f"ignoring {path}: written for {found}, this run is {expected}; starting from step 0")
        return None
    return state


def remove_checkpoint(run_dir: Path) -> None:
    (Path(run_dir) / CHECKPOINT).unlink(missing_ok=True)
