"""Where a run trains: ``--device auto|cpu|cuda|mps``, what it was, and GPU slots.

The device is an execution setting, not part of a run's identity: a study moved from a
laptop to a GPU cluster reuses its finished runs. Each run records where it ran (device,
its name, the dtype of its matmuls, torch version) so a difference in the last bits
between two machines can be traced. Determinism is promised per device: bit-identical on
the same CPU kind and thread count, or on the same GPU model, driver and settings, never
across devices.

GPU slots: Snakemake does not set CUDA_VISIBLE_DEVICES per job, so on a machine with
several GPUs the trainer picks one itself. Each GPU has ``per_gpu`` slots; a trainer takes
the first free slot (an exclusive flock, released when the process ends in any way) and
trains on GPU ``slot % n_gpus``, so runs spread over the GPUs and at most ``per_gpu`` share
one. Under Slurm only the GPUs of the job are visible, and the same rule applies inside it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from ablate.study.execution import DEVICES

# cuBLAS picks its reduction order per workspace; a fixed workspace makes it deterministic.
# cuBLAS reads it when its first handle is made (the first matmul), after setup sets it.
CUBLAS_WORKSPACE = ":4096:8"


class DeviceUnavailable(RuntimeError):
    """The requested device is not on this machine: one line, naming what is."""


def available() -> list[str]:
    found = ["cpu"]
    if torch.cuda.is_available():
        found.append(f"cuda ({torch.cuda.device_count()} GPU(s))")
    if torch.backends.mps.is_available():
        found.append("mps")
    return found


def resolve_device(requested: str) -> str:
    """``auto`` -> cuda when available, else cpu; an unavailable device -> DeviceUnavailable."""
    if requested not in DEVICES:
        raise DeviceUnavailable(f"--device {requested}: unknown; choose one of {DEVICES}")
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    present = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
    }[requested]
    if not present:
        built = f"torch {torch.__version__}, CUDA build {torch.version.cuda or 'none'}"
        raise DeviceUnavailable(
            f"--device {requested} is not available on this machine ({built}); "
            f"available: {', '.join(available())}"
        )
    return requested


def make_deterministic(device_type: str) -> None:
    """Deterministic kernels everywhere; on CUDA also full-precision fp32 matmuls (no TF32)
    and a fixed cuBLAS workspace, so the same GPU model gives the same bits."""
    torch.use_deterministic_algorithms(True)
    if device_type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = False


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "cpu":
        with contextlib.suppress(OSError):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def slot_for(n_gpus: int, per_gpu: int, lock_dir: Path, wait_s: float = 0.5):
    """Claim the first free GPU slot; returns (gpu index, open lock fd). Waits, logging
    nothing, while every slot is taken (Snakemake's gpu resource should prevent that)."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    while True:
        for slot in range(n_gpus * per_gpu):
            fd = os.open(lock_dir / f"slot-{slot}.lock", os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return slot % n_gpus, fd
        time.sleep(wait_s)


def slot_dir() -> Path:
    """One folder of slot locks per machine and user (GPUs are a per-machine resource)."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(base) / f"ablate-gpu-slots-{os.getuid()}"


@contextlib.contextmanager
def claimed_device(kind: str, per_gpu: int = 1):
    """The torch.device to train on; for CUDA, a GPU slot held for as long as the run."""
    if kind != "cuda":
        yield torch.device(kind)
        return
    gpu, fd = slot_for(torch.cuda.device_count(), per_gpu, slot_dir())
    try:
        torch.cuda.set_device(gpu)
        yield torch.device("cuda", gpu)
    finally:
        os.close(fd)


def free_memory(device: torch.device) -> None:
    """After an out-of-memory stop: hand the cached blocks back before the next run."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
