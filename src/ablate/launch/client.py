"""Hand a command to the warm server (server.py), or say it must start cold.

    code = run_warm("ablate", ["train", "--spec", ...])   # None: run it in this process

``run_warm`` returns None, and the caller runs the command itself, whenever the server
cannot take it: warm starts are off (``ABLATE_WARM=0``), this is a Slurm job (a server
would outlive the job's allocation), the platform has no fork, or no server runs yet. In
the last case it starts one in the background, so the first command of a study pays the
cold start and the rest do not. A command that finds a server starting (its lock held, no
socket yet) waits for it rather than starting cold beside it: Snakemake starts the first
jobs in the same instant, and each cold one would import what the server is importing,
on the same cores (measured on 2 cores: three cold commands and the server took 15 s of
wall time, where one cold command beside the server takes 7 s and the rest then start warm).

Once the server has forked the command, this process only relays: SIGTERM, SIGINT,
SIGHUP and SIGQUIT go on to the command, and its exit code becomes this process's (a
command killed by signal N exits 128 + N, as from a shell). If this process is killed,
the command sees its connection close and stops as on SIGTERM.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from ablate.launch.protocol import absolute_path, receive, send, socket_path

RELAYED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)
# How long a command waits for a starting server (its imports take ~5-7 s on one free core
# of a 2-core machine); after that it starts cold.
WAIT_S = float(os.environ.get("ABLATE_WARM_WAIT_S", "120"))


def enabled() -> bool:
    return (
        os.environ.get("ABLATE_WARM", "1") != "0"
        and "SLURM_JOB_ID" not in os.environ
        and sys.platform == "linux"  # fork without exec is unsafe on macOS; no fork on Windows
    )


def run_warm(module: str, argv: list[str]) -> int | None:
    """Run ``python -m module *argv`` in a child of the warm server; its exit code, or None
    if the server cannot run it (nothing has started then)."""
    if not enabled():
        return None
    path = socket_path()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        if start_server(path):
            return None  # this command runs cold beside the server it started
        sock = _wait_for_server(path)
        if sock is None:
            return None
    with sock:
        env = os.environ | {"ABLATE_WARM": "0"}  # the command's own commands start cold
        request = {"module": module, "argv": argv, "cwd": os.getcwd(), "env": env}
        try:
            sock.settimeout(30)
            send(sock, request, fds=[0, 1, 2])
            started, _ = receive(sock)
        except (OSError, ValueError):
            started = None
        if not started or "pid" not in started:
            return None  # the server went away before it forked: nothing ran
        return _relay(sock, started["pid"])


def _relay(sock: socket.socket, pid: int) -> int:
    def forward(signum, _frame):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    previous = {sig: signal.signal(sig, forward) for sig in RELAYED}
    try:
        sock.settimeout(None)
        while True:
            try:
                done, _ = receive(sock)
                break
            except InterruptedError:  # pragma: no cover (PEP 475 retries recv)
                continue
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if done is None or "exit" not in done:
        print(f"ablate: lost the exit code of process {pid} (its server ended)", file=sys.stderr)
        return 1
    code = done["exit"]
    return 128 - code if code < 0 else code


def _wait_for_server(path: Path) -> socket.socket | None:
    """A connection to the server that is starting on ``path``, once it listens; None if
    it dies first (its lock comes free) or takes longer than WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        time.sleep(0.05)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(path))
            return sock
        except OSError:
            sock.close()
        if not _locked(path):
            return None
    return None


def _locked(path: Path) -> bool:
    """Whether a server holds ``path``'s lock (it is starting or serving)."""
    lock = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(lock)


def start_server(path: Path) -> bool:
    """Start a server on ``path`` in its own session (a kill of the caller's process group
    leaves it, and its children, alone), unless one is starting or running (False).

    The lock is taken here and handed to the server as an open file (an flock belongs to
    the open file, which the server inherits), so it is held without a gap from this
    moment: a command that arrives while the server imports finds it held and waits."""
    lock = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by a live server
        except BlockingIOError:
            return False
        with open(f"{path}.log", "ab") as log:
            subprocess.Popen(
                [sys.executable, "-m", "ablate.launch.server", str(path), str(lock)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd="/",
                start_new_session=True,
                pass_fds=(lock,),
                env=os.environ | {"PYTHONPATH": absolute_path(os.environ.get("PYTHONPATH", ""))},
            )
        return True
    finally:
        os.close(lock)  # the server's copy keeps the lock
