"""Warm starts (ablate.launch): a command forked by the server behaves as the same command
started cold: arguments, working directory, environment, standard streams, exit code,
signals both ways, and, for training, the same bits."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from test_resume import assert_same_run, make_spec

from ablate.launch import client, protocol

ROOT = Path(__file__).resolve().parents[1]

PROBE = textwrap.dedent("""
    import os, signal, sys, time
    print("ppid", os.getppid(), "argv", sys.argv[1:], "cwd", os.getcwd(),
          "X", os.environ.get("X"), flush=True)
    print("err line", file=sys.stderr, flush=True)
    what = sys.argv[1]
    if what == "exit":
        sys.exit(int(sys.argv[2]))
    if what == "crash":
        os.kill(os.getpid(), signal.SIGKILL)
    if what == "wait":  # until SIGTERM, which it records in a file
        signal.signal(signal.SIGTERM, lambda *_: (open("termed", "w").close(), sys.exit(143)))
        open("started", "w").close()
        time.sleep(60)
""")


@pytest.fixture
def warm(tmp_path, monkeypatch):
    """A private socket folder, a server that idles out after 20 s, and the probe module in
    the working directory (where `python -m` finds it)."""
    monkeypatch.setenv("ABLATE_WARM_DIR", str(tmp_path / "sockets"))
    monkeypatch.setenv("ABLATE_WARM_IDLE_S", "20")
    monkeypatch.setenv("PYTHONPATH", str(ROOT / "src"))
    monkeypatch.delenv("ABLATE_WARM", raising=False)
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    (work / "probe_mod.py").write_text(PROBE)
    monkeypatch.chdir(work)
    return work


def caller(*argv: str, **kw) -> subprocess.Popen:
    """A client process, as `ablate` would be: run_warm or, failing that, the module cold."""
    code = (
        "import runpy, sys; from ablate.launch.client import run_warm\n"
        "code = run_warm('probe_mod', sys.argv[1:])\n"
        "print('warm' if code is not None else 'cold', file=sys.stderr, flush=True)\n"
        "if code is None:\n"
        "    sys.argv[0] = 'probe_mod'; runpy.run_module('probe_mod', run_name='__main__')\n"
        "sys.exit(code)\n"
    )
    return subprocess.Popen([sys.executable, "-c", code, *argv], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)  # fmt: skip


def server_up(timeout: float = 60) -> int:
    """The pid of the running server (waits for its socket)."""
    path = protocol.socket_path()
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, "no server started"
        time.sleep(0.05)
    for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"ablate.launch.server" in cmdline and str(path).encode() in cmdline:
            return pid
    raise AssertionError(f"no server process serves {path}")


def test_first_command_runs_cold_and_starts_a_server_the_second_is_its_child(warm):
    first = caller("exit", "0")
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0 and err.splitlines()[0] == "cold", err
    server_up()
    second = caller("exit", "0", env=os.environ | {"X": "from the caller"})
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0 and err.splitlines() == ["err line", "warm"], err
    fields = out.split()
    assert fields[fields.index("X") + 1 :] == ["from", "the", "caller"]
    assert f"cwd {warm}" in out and "argv ['exit', '0']" in out
    ppid = int(fields[1])
    assert ppid != second.pid and b"launch.server" in Path(f"/proc/{ppid}/cmdline").read_bytes()


def test_commands_that_arrive_together_run_one_cold_and_the_rest_wait_for_the_server(warm):
    """Snakemake starts the first jobs in one instant: one starts the server and runs cold,
    the others wait for it and run warm (cold, they would import what it imports)."""
    callers = [caller("exit", "0") for _ in range(3)]
    firsts = []
    for proc in callers:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        firsts.append("cold" if "cold" in err.splitlines() else "warm")
    assert sorted(firsts) == ["cold", "warm", "warm"], firsts


def test_a_command_waiting_for_a_server_that_dies_runs_cold(warm):
    """A held lock without a socket is a server still importing: the command waits; once
    the lock comes free without a socket (the server died), it runs cold at once."""
    path = protocol.socket_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)  # a "server" that is starting
    proc = caller("exit", "0")
    time.sleep(1.5)
    assert proc.poll() is None, "it did not wait for the starting server"
    os.close(lock)  # the "server" dies before it listens
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "cold" in err.splitlines(), err


def test_exit_codes_and_deaths_by_signal_come_back_as_from_a_shell(warm):
    caller("exit", "0").communicate(timeout=60)
    server_up()
    three = caller("exit", "3")
    three.communicate(timeout=60)
    assert three.returncode == 3
    crash = caller("crash")
    _, err = crash.communicate(timeout=60)
    assert crash.returncode == 128 + signal.SIGKILL and "warm" in err


def waiting_command(warm: Path) -> subprocess.Popen:
    """A caller whose command runs warm and waits for SIGTERM (it has said it started)."""
    caller("exit", "0").communicate(timeout=60)
    server_up()
    proc = caller("wait")
    deadline = time.monotonic() + 30
    while not (warm / "started").exists():
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    return proc


def test_sigterm_to_the_caller_reaches_the_command(warm):
    proc = waiting_command(warm)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode == 143 and (warm / "termed").exists()


def test_a_killed_caller_stops_its_command_with_sigterm(warm):
    proc = waiting_command(warm)
    proc.kill()  # kill -9: no chance to relay anything
    proc.wait()
    deadline = time.monotonic() + 30
    while not (warm / "termed").exists():
        assert time.monotonic() < deadline, "the orphaned command was not stopped"
        time.sleep(0.02)


def test_the_server_idles_out_and_removes_its_socket(warm, monkeypatch):
    monkeypatch.setenv("ABLATE_WARM_IDLE_S", "2")
    caller("exit", "0").communicate(timeout=60)
    pid = server_up()
    assert pid > 0
    deadline = time.monotonic() + 30
    while protocol.socket_path().exists() or Path(f"/proc/{pid}").exists():
        assert time.monotonic() < deadline, "the server did not exit when idle"
        time.sleep(0.1)


def test_another_interpreter_setup_gets_another_server(warm, monkeypatch):
    before = protocol.server_key()
    monkeypatch.setenv("OMP_NUM_THREADS", "7")  # read when torch loads: a server of its own
    assert protocol.server_key() != before


def test_off_under_slurm_and_when_asked(warm, monkeypatch):
    assert client.enabled()
    monkeypatch.setenv("SLURM_JOB_ID", "1")
    assert not client.enabled()
    monkeypatch.delenv("SLURM_JOB_ID")
    monkeypatch.setenv("ABLATE_WARM", "0")
    assert not client.enabled() and client.run_warm("probe_mod", ["exit", "0"]) is None


def test_a_run_trained_warm_equals_the_run_trained_cold(warm):
    """`ablate train` forked by the server writes the same tables, bit for bit (timing
    columns aside), as a cold process: nothing the server imported changes the numbers."""
    spec = warm / "spec.yaml"
    spec.write_text(yaml.safe_dump(make_spec(steps=30).to_dict()))

    def train(out: str, **env) -> str:
        cmd = [sys.executable, "-m", "ablate", "train", "--spec", str(spec), "--out", out]
        done = subprocess.run(cmd, env=os.environ | env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    train("cold", ABLATE_WARM="0")
    train("first")  # cold too, and starts the server
    server_up()
    train("warm")
    assert Path(f"/proc/{server_up()}").exists()
    assert_same_run(warm / "cold", warm / "warm")
