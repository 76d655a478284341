"""Stopping a run cleanly on SIGTERM/SIGINT: what Slurm sends before preemption and at its
time limit, and what Ctrl-C sends. The loop finishes its step, checkpoints, and stops.
"""

from __future__ import annotations

import contextlib
import signal


class Interrupted(Exception):
    """SIGTERM/SIGINT arrived; a checkpoint was written at ``step``."""

    def __init__(self, signum: int, step: int):
        super().__init__(f"{signal.Signals(signum).name} at step {step}: checkpoint written")
        self.signum, self.step = signum, step


@contextlib.contextmanager
def stop_requests():
    """SIGTERM/SIGINT -> a list that the loop checks after each step (it then checkpoints
    and raises Interrupted). A second signal stops at once, for a step that hangs."""
    requested: list[int] = []

    def handler(signum, frame):
        if requested:
            raise KeyboardInterrupt
        requested.append(signum)

    signums = (signal.SIGTERM, signal.SIGINT)
    try:
        previous = {s: signal.signal(s, handler) for s in signums}
    except ValueError:  # not the main thread: signals cannot be caught here
        yield requested
        return
    try:
        yield requested
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
