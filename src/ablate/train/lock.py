"""One trainer per run directory, even across machines that share the file system.

On a cluster a training job can outlive the Snakemake that started it (Snakemake killed,
the Slurm job still running); a second Snakemake would then start a second trainer of the
same run, and the two would overwrite each other's checkpoint and tables. The trainer
holds an exclusive ``flock`` on ``<run>/.train.lock`` for as long as it runs; the kernel
releases it when the process ends in any way (kill -9 included), so a lock is never stale.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from pathlib import Path

LOCK_FILE = ".train.lock"
# How long a trainer waits for the lock before it refuses: a trainer whose caller was
# killed stops on its own (ablate.launch: it checkpoints, as on SIGTERM) and lets go within
# a second or two, and the rerun that follows at once should not fail for that.
WAIT_S = 10.0


class RunLocked(RuntimeError):
    """Another process is training this run."""


@contextlib.contextmanager
def run_lock(run_dir: str | Path):
    path = Path(run_dir) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if not _lock(fd, WAIT_S):
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            raise RunLocked(
                f"{run_dir} is being trained by another process ({holder}); refusing to "
                "train it twice. Wait for that process to finish, or stop it first."
            ) from None
        # who holds it, for the message above (the file itself is left in place: removing
        # it could let a third process lock a new file while a second waits on the old one)
        os.ftruncate(fd, 0)
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {started}".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _lock(fd: int, wait_s: float) -> bool:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
