"""The messages between a client and the warm server, over a Unix socket.

One message is a 4-byte big-endian length and that many bytes of JSON. The request also
carries the client's standard streams as file descriptors (SCM_RIGHTS), so the command's
output goes where the client's would: the job's log, a pipe, a terminal.

    client -> server   {"module", "argv", "cwd", "env"} + fds 0, 1, 2
    server -> client   {"pid": P}        the command runs as process P
    server -> client   {"exit": CODE}    it ended: CODE as subprocess reports it (-N: signal N)

Where the server listens: one socket per interpreter set-up (``server_key``), in a folder
only this user can open.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import socket
import struct
import sys
import tempfile
from pathlib import Path

# What the server imports before it forks (each optional): the costly imports of the
# commands it runs, analyse's and report's statistics and charts too. Not ablate itself:
# each child imports this checkout's code afresh (about 0.1 s), so an edit is never
# served stale.
# torch._inductor: torch.use_deterministic_algorithms (every run calls it) imports it to set
# its config, about 2 s that would otherwise be paid by every run.
PRELOAD = ("torch", "torch._inductor", "numpy", "pandas", "pyarrow", "scipy", "scipy.stats",
           "yaml", "safetensors", "altair", "statsmodels.api", "vl_convert")  # fmt: skip
# Environment variables read when those libraries load (threads, allocators, paths): a
# server started under other values would run the command differently.
IMPORT_TIME_ENV = ("OMP_", "MKL_", "KMP_", "GOMP_", "TORCH_", "PYTORCH_", "CUDA_", "LD_",
                   "PYTHON", "VIRTUAL_ENV")  # fmt: skip
MAX_MESSAGE = 16 << 20


def server_key() -> str:
    """What the server's imported state depends on: the interpreter (its own paths come
    with it), PYTHONPATH, the import-time environment and the preloaded libraries' files
    (a reinstall changes them)."""
    parts = [sys.executable, sys.version, absolute_path(os.environ.get("PYTHONPATH", ""))]
    parts += sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith(IMPORT_TIME_ENV))
    for name in dict.fromkeys(m.partition(".")[0] for m in PRELOAD):
        spec = importlib.util.find_spec(name)  # a top-level name: finds, does not import
        if spec is not None and spec.origin:
            parts.append(f"{spec.origin}@{os.stat(spec.origin).st_mtime_ns}")
    here = Path(__file__).resolve().parent  # the server's own code is loaded once
    parts += [f"{p.name}@{p.stat().st_mtime_ns}" for p in sorted(here.glob("*.py"))]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def absolute_path(pythonpath: str) -> str:
    """A PYTHONPATH with each entry made absolute (the server runs in /)."""
    return os.pathsep.join(os.path.abspath(p) for p in pythonpath.split(os.pathsep) if p)


def socket_dir() -> Path:
    """$ABLATE_WARM_DIR, else $XDG_RUNTIME_DIR/ablate, else <tmp>/ablate-<uid>; mode 0700."""
    base = os.environ.get("ABLATE_WARM_DIR")
    if not base:
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        base = os.path.join(runtime, "ablate") if runtime else None
    path = Path(base or os.path.join(tempfile.gettempdir(), f"ablate-{os.getuid()}"))
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def socket_path() -> Path:
    return socket_dir() / f"{server_key()}.sock"


def send(sock: socket.socket, message: dict, fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    frame = struct.pack(">I", len(data)) + data
    if fds:
        socket.send_fds(sock, [frame], fds)
    else:
        sock.sendall(frame)


def receive(sock: socket.socket, with_fds: bool = False) -> tuple[dict | None, list[int]]:
    """The next message (None at end of stream) and any file descriptors sent with it."""
    fds: list[int] = []
    if with_fds:
        head, fds, _, _ = socket.recv_fds(sock, 4, 3)
    else:
        head = sock.recv(4)
    head += _exactly(sock, 4 - len(head)) if head else b""
    if len(head) < 4:
        return None, fds
    (size,) = struct.unpack(">I", head)
    if size > MAX_MESSAGE:
        raise ValueError(f"message of {size} bytes")
    body = _exactly(sock, size)
    if len(body) < size:
        return None, fds
    return json.loads(body), fds


def _exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data
