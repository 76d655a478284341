"""A throwaway single-node Slurm cluster for tests/test_slurm.py (root, Debian packages).

Everything the cluster writes (config, state, spool, logs, pid files, munge socket) lives in
one private directory. The only thing outside it is the symlink /etc/slurm/slurm.conf: the
slurm-jobstep plugin removes SLURM_CONF from the environment of the `srun` inside each job,
so the config must be found at Slurm's compiled-in path. Teardown stops only the daemons
started here (by the PIDs in their pid files) and removes only that symlink.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
PROGRAMS = ["slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol", "munged"]
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")
MUNGE_KEY = Path("/etc/munge/munge.key")
MARKER = "# written by ablate tests/slurm_cluster.py: a throwaway test cluster"
PREFIX = "ablate-slurm-"  # private directories are /tmp/ablate-slurm-*
# One test cluster per machine at a time: two pytest sessions (two worktrees) take turns.
LOCK = Path(tempfile.gettempdir()) / "ablate-test-slurm.lock"
# MinJobAge keeps finished jobs in slurmctld's memory, where squeue (the status command
# without slurmdbd) and the test's own checks can still see them; it must stay >= 3 x the
# profile's slurm-init-seconds-before-status-checks or the plugin falls back to sacct.
MIN_JOB_AGE = 600


class Unavailable(Exception):
    """The cluster cannot be brought up here; the message says why (a skip reason)."""


def install_packages() -> None:
    """apt-get the Slurm and munge packages unless their programs are already there."""
    if all(shutil.which(p) for p in PROGRAMS):
        return
    if not shutil.which("apt-get"):
        raise Unavailable("apt-get is not available to install Slurm")
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES]
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(install, env=env, capture_output=True, text=True)
    if done.returncode != 0:  # a fresh machine has no package lists yet
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
        done = subprocess.run(install, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise Unavailable(f"apt-get could not install {PACKAGES}: {done.stderr[-2000:]}")


def is_ours(conf: Path) -> bool:
    """Our symlink: its target carries MARKER, or is gone with its /tmp/ablate-slurm-* dir
    (a test session killed before its teardown)."""
    if not conf.is_symlink():
        return False
    target = Path(os.readlink(conf))
    if target.exists():
        return MARKER in target.read_text(errors="replace")
    return target.parent.name.startswith(PREFIX)


def free_port() -> int:
    """A TCP port nobody listens on now: daemons left by a killed session keep theirs."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def real_memory_mb() -> int:
    """What slurmd itself measures (`slurmd -C`), so the node is not drained for lying."""
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"RealMemory=(\d+)", out).group(1))


class Cluster:
    """start() brings the cluster up (or raises Unavailable), stop() takes it down."""

    def __init__(self) -> None:
        self.dir = Path()
        self.host = socket.gethostname()
        self.started: list[Path] = []  # pid files of the daemons started here
        self.linked = False
        self._lock = None

    # -- bring up ----------------------------------------------------------------------

    def start(self) -> None:
        try:
            self._take_lock()
            self.dir = Path(tempfile.mkdtemp(prefix=PREFIX))
            self._link_config()
            self._start_daemons()
        except BaseException:
            self.stop()
            raise

    def _take_lock(self, timeout_s: float = 900) -> None:
        self._lock = LOCK.open("w")
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise Unavailable(
                        f"another test cluster held {LOCK} for {timeout_s} s"
                    ) from None
                time.sleep(1)

    def _link_config(self) -> None:
        if SYSTEM_CONF.exists() or SYSTEM_CONF.is_symlink():
            if not is_ours(SYSTEM_CONF):
                raise Unavailable(f"{SYSTEM_CONF} exists and was not written by these tests")
            SYSTEM_CONF.unlink()  # left behind by a killed session of ours
        conf = self.dir / "slurm.conf"
        conf.write_text(self._config())
        SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
        SYSTEM_CONF.symlink_to(conf)
        self.linked = True

    def _config(self) -> str:
        d = self.dir
        return f"""{MARKER}
ClusterName=ablate-test
SlurmctldHost={self.host}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={d}/munge/munge.socket
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge={MIN_JOB_AGE}
NodeName={self.host} NodeAddr=127.0.0.1 CPUs={os.cpu_count()} RealMemory={real_memory_mb()}
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""

    def _start_daemons(self) -> None:
        d = self.dir
        d.chmod(0o755)  # munged runs as user munge and must reach its socket directory
        for sub in ("state", "spool"):
            (d / sub).mkdir()
        munge = d / "munge"
        munge.mkdir(mode=0o755)  # munged wants its socket directory searchable by all
        shutil.chown(munge, "munge", "munge")
        if not MUNGE_KEY.exists():  # never replace a key someone else made
            subprocess.run(["mungekey", "--create"], check=True)
            shutil.chown(MUNGE_KEY, "munge", "munge")
        # munged refuses to run as root with a key owned by munge: run it as munge
        self._daemon(
            munge / "munged.pid",
            ["runuser", "-u", "munge", "--", "munged", f"--socket={munge}/munge.socket",
             f"--pid-file={munge}/munged.pid", f"--log-file={munge}/munged.log",
             f"--seed-file={munge}/munged.seed"],
        )  # fmt: skip
        self._daemon(d / "slurmctld.pid", ["slurmctld"])
        self._daemon(d / "slurmd.pid", ["slurmd"])
        self._wait_for_idle()

    def _daemon(self, pid_file: Path, cmd: list[str]) -> None:
        """Start a self-daemonising program and remember it once its pid file appears."""
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise RuntimeError(f"{cmd} failed: {done.stderr}\n{self.logs()}")
        deadline = time.monotonic() + 20
        while not (pid_file.exists() and pid_file.read_text().strip()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{cmd[0]} wrote no {pid_file}\n{self.logs()}")
            time.sleep(0.1)
        self.started.append(pid_file)

    def _wait_for_idle(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        state = ""
        while time.monotonic() < deadline:
            done = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True)
            state = done.stdout.strip()
            if state == "idle":
                return
            time.sleep(0.3)
        raise RuntimeError(f"node not idle after {timeout_s} s (state {state!r})\n{self.logs()}")

    # -- use ---------------------------------------------------------------------------

    def jobs(self) -> dict[str, tuple[str, str]]:
        """Every job slurmctld still knows (MinJobAge): id -> (name, state)."""
        out = subprocess.run(
            ["squeue", "--states=all", "-h", "-o", "%i|%j|%T"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        rows = (line.split("|") for line in out.splitlines() if line)
        return {job_id: (name, state) for job_id, name, state in rows}

    def logs(self) -> str:
        """The daemons' last log lines, for a failing test's message."""
        parts = []
        for name in ("slurmctld.log", "slurmd.log", "munge/munged.log"):
            path = self.dir / name
            if path.exists():
                parts.append(f"--- {path}\n" + "\n".join(path.read_text().splitlines()[-30:]))
        return "\n".join(parts)

    # -- tear down ---------------------------------------------------------------------

    def _cancel_jobs(self, timeout_s: float = 20) -> None:
        """End the jobs left running by a failed or timed-out test: they would outlive
        slurmd. Every job on this private cluster is the test's own."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            done = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True)
            ids = done.stdout.split()
            if done.returncode != 0 or not ids:
                return
            subprocess.run(["scancel", "--full", *ids], capture_output=True)
            time.sleep(0.5)

    def stop(self) -> None:
        if self.started:
            self._cancel_jobs()
        terminate([int(pid_file.read_text().split()[0]) for pid_file in self.started])
        self.started.clear()
        if self.linked and is_ours(SYSTEM_CONF):
            SYSTEM_CONF.unlink()
            self.linked = False
        if self.dir.name.startswith(PREFIX):
            shutil.rmtree(self.dir, ignore_errors=True)
        if self._lock:
            self._lock.close()  # releases the flock


def terminate(pids: list[int], timeout_s: float = 15) -> None:
    """SIGTERM the daemons we started, all at once (each takes 1-2 s to save its state and
    exit); SIGKILL any still there after timeout_s."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            while time.monotonic() < deadline:
                os.kill(pid, 0)  # raises ProcessLookupError once it is gone
                time.sleep(0.1)
            os.kill(pid, signal.SIGKILL)
