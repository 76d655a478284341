"""How long a set of jobs takes when Snakemake runs up to ``jobs`` of them on ``cores`` cores.

Snakemake starts a job whenever fewer than ``jobs`` run (``--cores N`` with one thread per
job: N at once). The cores are shared: k running jobs each progress at

    rate(k) = contention(min(k, cores)) * min(1, cores / k)

times their speed alone; ``contention`` falls linearly from 1 (one busy core) to the
measured ``contention`` (every core busy: shared caches, memory bandwidth, SMT siblings),
and more jobs than cores share them in time. The simulation is event-driven and exact for
this model. Pure Python, no torch.
"""

from __future__ import annotations


def rate(k: int, cores: int, contention: float) -> float:
    """Speed of each of k running jobs, relative to one job alone."""
    busy = min(k, cores)
    slowdown = 1.0 if cores <= 1 else 1 - (1 - contention) * (busy - 1) / (cores - 1)
    return slowdown * min(1.0, cores / k)


def simulate(
    solo: list[float], jobs: int, cores: int, contention: float = 1.0
) -> tuple[float, list[float]]:
    """List-schedule jobs of ``solo`` seconds each (alone on a core), in the given order.

    Returns (makespan, each job's wall seconds from its start to its end).
    """
    if jobs < 1 or cores < 1:
        raise ValueError(f"jobs and cores must be >= 1, got jobs={jobs}, cores={cores}")
    pending = list(enumerate(solo))
    pending.reverse()  # pop() from the end takes jobs in the given order
    running: dict[int, float] = {}  # job index -> solo seconds of work left
    started: dict[int, float] = {}
    walls = [0.0] * len(solo)
    now = 0.0
    while pending or running:
        while pending and len(running) < jobs:
            i, work = pending.pop()
            running[i], started[i] = work, now
        speed = rate(len(running), cores, contention)
        dt = min(running.values()) / speed
        now += dt
        for i in list(running):
            running[i] -= dt * speed
            if running[i] <= 1e-12:
                del running[i]
                walls[i] = now - started[i]
    return now, walls


def longest_first(solo: list[float]) -> list[int]:
    """Indices of jobs, longest first: the order that keeps a long job from ending last."""
    return sorted(range(len(solo)), key=lambda i: -solo[i])
