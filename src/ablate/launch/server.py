"""The warm server: import the costly libraries once, then fork one child per command.

    python -m ablate.launch.server SOCKET [LOCK_FD]   (started by client.py; not by hand)

One server per socket (an flock on SOCKET.lock for its whole life, so two clients that
both find none cannot start two; client.py takes it and hands it over as LOCK_FD). It
serves on a single thread: accept a request, fork, tell the client the child's pid; when
a child ends, tell its client the exit code. It
exits once it has had no child and no request for ``ABLATE_WARM_IDLE_S`` seconds
(default 60), removing its socket first.

A child becomes the command: the client's standard streams on fds 0-2, its working
directory, environment and arguments, then the module run as ``python -m MODULE`` would
run it (runpy). It watches its connection on a thread: if the client dies (kill -9 of a
Snakemake job, say) the child receives SIGTERM, which a trainer answers with a
checkpoint, as it would under Slurm's time limit.

Why fork is safe here: the server never runs a torch operation, starts no thread and
initialises no GPU, so a child inherits imported modules and nothing else; it sets its
own threads and seeds, as a fresh process would.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import os
import runpy
import selectors
import signal
import socket
import sys
import threading
import traceback
from pathlib import Path

from ablate.launch.protocol import PRELOAD, receive, send

IDLE_S = float(os.environ.get("ABLATE_WARM_IDLE_S", "60"))


def serve(path: Path, lock: int | None = None) -> None:
    """Serve on ``path``; ``lock``: an inherited file descriptor of its lock, held."""
    if lock is None:
        lock = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # another server holds this socket
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # a dead server's (the lock says none is alive)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(64)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes select() through the pipe
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    children: dict[int, socket.socket] = {}
    try:
        while True:
            events = selector.select(timeout=None if children else IDLE_S)
            if not events and not children:
                break  # idle for IDLE_S
            for key, _ in events:
                if key.fileobj is listener:
                    conn, _ = listener.accept()
                    own = (listener, selector, wake_r, wake_w, lock, *children.values())
                    pid = _start(conn, own)
                    if pid:
                        children[pid] = conn
                else:
                    os.read(wake_r, 4096)
            _reap(children)
    finally:
        path.unlink(missing_ok=True)  # before the lock goes: a new server may then start
        listener.close()


def _start(conn: socket.socket, server_files: tuple) -> int | None:
    """Read one request and fork its child, which closes ``server_files`` (the listener,
    the selector, the wake-up pipe, the lock, other children's connections: a command that
    outlives a killed server must not hold its lock) and never returns."""
    conn.settimeout(10)
    try:
        request, fds = receive(conn, with_fds=True)
    except (OSError, ValueError):
        request, fds = None, []
    if request is None or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        conn.close()
        return None
    pid = os.fork()
    if pid == 0:
        for item in server_files:
            with contextlib.suppress(OSError):
                os.close(item) if isinstance(item, int) else item.close()
        _child(conn, request, fds)
    for fd in fds:
        os.close(fd)
    with contextlib.suppress(OSError):  # the client is gone: the child's watcher stops it
        send(conn, {"pid": pid})
    return pid


def _reap(children: dict[int, socket.socket]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = children.pop(pid, None)
        if conn is not None:
            with contextlib.suppress(OSError):
                send(conn, {"exit": os.waitstatus_to_exitcode(status)})
            conn.close()


def _child(conn: socket.socket, request: dict, fds: list[int]) -> None:
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.path[0] = request["cwd"]  # as `python -m` has it
        sys.argv = [request["module"], *request["argv"]]
        _name(f"{request['module']} {' '.join(request['argv'][:1])}")
        threading.Thread(target=_watch, args=(conn,), daemon=True).start()
        code = _run(request["module"])
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _run(module: str) -> int:
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            return done.code or 0
        print(done.code, file=sys.stderr)
        return 1
    return 0


def _name(title: str) -> None:
    """What ps and top show for this child (it has the server's command line): the
    command, not the server. Linux keeps 15 characters."""
    with contextlib.suppress(OSError):
        Path("/proc/self/comm").write_text(title[:15])


def _watch(conn: socket.socket) -> None:
    """SIGTERM this child when its client goes away (the client sends nothing after the
    request, so a read returns only at end of stream)."""
    conn.settimeout(None)
    with contextlib.suppress(OSError):
        while conn.recv(64):
            pass
    os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    serve(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else None)
