"""A run's final weights: ``model.safetensors``, written once training is done, and
``load_run``, which rebuilds the model from the run directory alone.

    from ablate import load_run
    model, spec = load_run("results/runs/<run id>")   # eval mode, on the CPU

The file is plain safetensors (no pickle: loading runs no code). Its metadata holds the
run's ``spec_hash``, the ``numerics_version`` of the code that trained it and the ``spec``
as canonical JSON, so a file is tied to the spec.yaml beside it: ``load_run`` refuses a file
whose hash is not spec.yaml's. The vocabulary size is the token table's first dimension (the
loop sets it from the data), so loading needs no corpus. Saving happens after the last step
and the last evaluation, and neither saving nor loading touches torch's global RNG.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch
import yaml
from safetensors import safe_open
from safetensors.torch import load_file, save

from ablate.model.transformer import Transformer, build_model
from ablate.spec.run_spec import NUMERICS_VERSION, RunSpec, canonical_json, spec_hash
from ablate.store.atomic import atomic_write_bytes
from ablate.store.tables import MODEL_FILE


class SavedModelError(ValueError):
    """A model file that does not belong to the spec.yaml beside it."""


def model_bytes(model: torch.nn.Module, spec: RunSpec) -> bytes:
    """The safetensors file of ``model``'s state dict. A tensor reachable under two names
    (tied weights) is stored once, the others listed in the metadata's ``aliases``: safetensors
    refuses tensors that share memory, and one copy is what was trained."""
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple, str] = {}
    for name, tensor in model.state_dict().items():
        view = (
            tensor.untyped_storage().data_ptr(),
            tensor.storage_offset(),
            tensor.shape,
            tensor.dtype,
        )
        if view in seen:
            aliases[name] = seen[view]
            continue
        seen[view] = name
        # clone: a CPU tensor would otherwise still share memory with the live model
        tensors[name] = tensor.detach().to("cpu", copy=True).contiguous()
    metadata = {
        "spec_hash": spec_hash(spec),
        "numerics_version": str(NUMERICS_VERSION),
        "spec": canonical_json(spec.to_dict()),
        "aliases": json.dumps(aliases, sort_keys=True),
    }
    return save(tensors, metadata=metadata)


def save_model_file(run_dir: str | Path, model: torch.nn.Module, spec: RunSpec) -> Path:
    """Write ``run_dir/model.safetensors`` atomically (temp name in the folder, then rename)."""
    path = Path(run_dir) / MODEL_FILE
    atomic_write_bytes(path, model_bytes(model, spec))
    return path


def load_run(
    run_dir: str | Path, device: str | torch.device = "cpu"
) -> tuple[Transformer, RunSpec]:
    """The run's final model (eval mode, on ``device``) and its RunSpec, from spec.yaml and
    model.safetensors. Raises SavedModelError if the file's spec hash is not spec.yaml's."""
    run_dir = Path(run_dir)
    spec_path, path = run_dir / "spec.yaml", run_dir / MODEL_FILE
    if not spec_path.is_file():
        raise FileNotFoundError(f"{spec_path} not found: {run_dir} is not a run directory")
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: the run is not finished, or was trained before runs kept "
            "their weights (rerunning the study retrains it, with the same numbers)"
        )
    raw = yaml.safe_load(spec_path.read_text())
    spec, expected = RunSpec.from_dict(raw), spec_hash(raw)
    with safe_open(str(path), framework="pt") as f:  # the header only
        metadata = f.metadata() or {}
    found = metadata.get("spec_hash")
    if found != expected:
        trained_by = metadata.get("numerics_version", "?")
        raise SavedModelError(
            f"{path} holds spec hash {found!r} but {spec_path} hashes to {expected!r} "
            f"(the file was written by numerics version {trained_by}, this code is "
            f"{NUMERICS_VERSION}): these weights are not this spec's"
        )
    state = load_file(str(path))
    for alias, name in json.loads(metadata.get("aliases", "{}")).items():
        state[alias] = state[name]
    cfg = dataclasses.replace(spec.model, vocab_size=state["wte.weight"].shape[0])
    # building draws initial weights (overwritten below) from torch's RNG: give the caller's
    # RNG back as it was, so loading a run never shifts a notebook's random numbers
    with torch.random.fork_rng(devices=[]):
        model = build_model(cfg)
    model.load_state_dict(state, strict=True)
    return model.to(device).eval(), spec
