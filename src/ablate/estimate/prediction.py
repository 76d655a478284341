"""Predict a study's wall time on this machine before anything trains (``ablate estimate``).

    runs --(which does Snakemake still have to do?)--> jobs --(cost.Costs)--> seconds each
         --(schedule.simulate: N jobs sharing the cores)--> makespan + study-level steps

What is still to do is decided by Snakemake itself: a dry run (``snakemake -n``) lists
every job it would run, with all of its rerun rules (missing or incomplete outputs, inputs
newer than outputs, changed params or code). It costs one parse of the workflow (~1-2 s)
and is exact. Where Snakemake cannot be asked (inside a running workflow, while it parses),
``pending_by_files`` checks that each run's files exist, as the train rule's outputs.

Torch-free: the workflow prints a one-line estimate on every dry run from a cached
calibration (``ablate.estimate.calibration.load``), and that must stay cheap.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import ablate
from ablate.estimate import calibration, step_times
from ablate.estimate.cost import Costs, run_work
from ablate.estimate.makespan import longest_first, rate, simulate
from ablate.store.atomic import atomic_write_bytes
from ablate.store.tables import RUN_FILES  # the train rule's outputs (common.smk)
from ablate.study.comparison import comparison_candidates
from ablate.study.expand import expand_study
from ablate.study.tuning import read_choice, tuning_of

STUDY_RULES = ("collect", "analyse", "report")
QUIET = "ABLATE_ESTIMATE_QUIET"  # set in the dry run we start: no estimate inside it


class Plan:
    """What Snakemake would run: the runs to train and the count of every rule's jobs."""

    def __init__(self, train: set[str], jobs: dict[str, int], by: str, parse_s: float | None):
        self.train, self.jobs, self.by, self.parse_s = train, jobs, by, parse_s


def snakefile(root: str | Path = ".") -> Path:
    """The workflow: the one in ``root``, else this checkout's (beside src/)."""
    here = Path(root) / "Snakefile"
    checkout = Path(ablate.__file__).resolve().parents[2]  # src/ablate/ -> the repository
    return here if here.is_file() else checkout / "Snakefile"


def pending_by_snakemake(
    configfile: str | None, root: str | Path = ".", timeout: float = 60
) -> Plan:
    """Ask Snakemake (a dry run in ``root``) which jobs it would run. Raises RuntimeError."""
    command = [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "-s", str(snakefile(root))]
    command += ["--directory", str(root)]
    if configfile:
        command += ["--configfile", str(configfile)]
    tick = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ | {QUIET: "1"},
        check=False,
    )
    parse_s = time.perf_counter() - tick
    text = done.stdout + done.stderr
    if done.returncode != 0:
        raise RuntimeError(f"snakemake -n failed:\n{text[-2000:]}")
    return Plan(_train_runs(text), _job_counts(text), "snakemake -n", parse_s)


def _train_runs(text: str) -> set[str]:
    """Run ids of the train jobs a dry run lists (each job block names its wildcards)."""
    runs, in_train = set(), False
    for line in text.splitlines():
        stripped = line.strip()
        if re.match(r"^(local)?rule \w+:$", stripped):
            in_train = stripped.split()[-1] == "train:"
        elif in_train and stripped.startswith("wildcards:"):
            runs.update(re.findall(r"run=([0-9a-f]{16})", stripped))
    return runs


def _job_counts(text: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run: rule -> number of jobs."""
    counts, in_table = {}, False
    for line in text.splitlines():
        if line.startswith("Job stats"):
            in_table = True
        elif in_table:
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit() and parts[0] != "total":
                counts[parts[0]] = int(parts[1])
            elif not line.strip():
                break
    return counts


def pending_by_files(runs, root: str | Path = ".", study_dir: str | None = None) -> Plan:
    """The runs without all of their files, as the train rule sees them. Cheap, but blind
    to Snakemake's other rerun rules (an input newer than the outputs, an incomplete mark)."""
    root = Path(root)
    train = set()
    for run_id in dict.fromkeys(r.run_id for r in runs):
        run_dir = root / "results" / "runs" / run_id
        if not all((run_dir / name).is_file() for name in RUN_FILES):
            train.add(run_id)
    jobs = {"train": len(train)}
    study_done = study_dir and (root / study_dir / "analysis").is_dir()
    if train or not study_done:
        jobs |= dict.fromkeys(STUDY_RULES, 1)
    if not (study_dir and (root / study_dir / "estimate.json").is_file()):
        jobs["estimate"] = 1
    return Plan(train, jobs, "files", None)


def solo_seconds(costs: Costs, spec, step_s: float | None, root=".") -> float:
    """One run's seconds alone on a core; its steps at ``step_s`` each where that was
    measured (step_times), else as the linear model prices them. A measured step had
    every core busy: times ``contention``, it is a step alone (the schedule divides by it
    again while every core is busy)."""
    work = run_work(spec, root)
    seconds = costs.solo_seconds(work)
    if step_s is None:
        return seconds
    return seconds - costs.train_seconds(work) + work.steps * step_s * costs.contention


def estimate(
    runs,
    plan: Plan,
    costs: Costs,
    jobs: int,
    cores: int,
    root=".",
    parse_s=None,
    step_s=None,
    later=(),
) -> dict:
    """The study's predicted wall seconds with ``jobs`` Snakemake jobs on ``cores`` cores.

    ``parse_s``: seconds of one Snakemake parse (the dry run's own time, else a cached one),
    the cost of Snakemake's start and of each job it runs in a process of its own.
    ``step_s``: run id -> measured seconds per step (step_times.for_runs), where known.
    ``later``: runs not known yet (a tuned variant's comparison runs, before the choice),
    each as its candidates (one per grid point): each is priced at its costliest candidate.
    """
    unique = {r.run_id: r for r in runs}
    step_s = step_s or {}
    requested, jobs = jobs, min(jobs, cores)  # the workflow trains no more runs than cores
    parse_s = plan.parse_s if plan.parse_s is not None else (parse_s or costs.run)
    solo = {
        run_id: solo_seconds(costs, r.spec, step_s.get(run_id), root)
        for run_id, r in unique.items()
    }
    todo = sorted(plan.train & set(unique))
    per_job = [solo[run_id] for run_id in todo]
    order = longest_first(per_job)
    per_job = [per_job[i] for i in order]
    if per_job:
        # the first command starts cold (imports torch and the rest) and starts the warm
        # server, which imports the same on a core of its own while the next jobs wait
        per_job[0] += costs.cold_start
        per_job.append(costs.cold_start)
    makespan, _ = simulate(per_job, jobs, cores, costs.contention)
    if later:
        # after the tuning checkpoint, which waits for every tuning run: a second schedule,
        # and the checkpoint's own command (Snakemake's parse of the new DAG costs ~parse_s)
        def costliest(candidates) -> float:
            return max(solo_seconds(costs, r.spec, step_s.get(r.run_id), root) for r in candidates)

        second = sorted(map(costliest, later), reverse=True)
        makespan += simulate(second, jobs, cores, costs.contention)[0] + parse_s
    study = costs.study_seconds(len(unique)) if any(plan.jobs.get(r) for r in STUDY_RULES) else 0.0
    # Snakemake's own start, and the estimate rule's job, which runs first and alone
    total = parse_s * (1 + bool(plan.jobs.get("estimate"))) + makespan + study
    steady = rate(min(jobs, max(1, len(todo))), cores, costs.contention)
    return {
        "total_seconds": round(total, 1),
        "runs": len(unique),
        "cached": len(unique) - len(todo),
        "to_train": len(todo) + len(later),
        # comparison runs of tuned variants that follow the choice, priced at their grid's
        # costliest point (the choice is not known before the tuning runs train)
        "after_tuning": len(later),
        "cores": requested,
        "machine_cores": cores,
        "train_jobs_at_once": jobs,
        "train_seconds": round(makespan, 1),
        "study_seconds": round(study, 1),
        "snakemake_parse_seconds": round(parse_s, 2),
        "jobs": plan.jobs,
        "cached_by": plan.by,
        # runs whose steps were timed on this machine (the rest: the linear model's price)
        "steps_measured": sum(run_id in step_s for run_id in unique),
        # each run's job seconds at the study's sharing of the cores; alone on one core
        "per_run": {run_id: round(s / steady, 2) for run_id, s in solo.items()},
        "per_run_alone": {run_id: round(s, 2) for run_id, s in solo.items()},
    }


def duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def one_line(result: dict) -> str:
    later = result.get("after_tuning", 0)
    then = f" ({later} of them after tuning, priced at the grid's costliest value)" if later else ""
    return (
        f"estimate: {result['runs'] + later} runs, {result['cached']} cached, "
        f"{result['to_train']} to train{then}: ~{duration(result['total_seconds'])} with "
        f"--cores {result['cores']} on {result['machine_cores']} cores"
    )


def study_runs(config: dict, runs, study_dir) -> tuple[list, list]:
    """(the runs known now, the runs to come): with tuning, the comparison runs are known
    once results/<study>/tuning/choice.json says what was chosen; before, each is its
    candidates at every grid point (study/comparison.py)."""
    if tuning_of(config) is None:
        return list(runs), []
    choice_file = Path(study_dir) / "tuning" / "choice.json"
    if choice_file.is_file():
        return expand_study(config, choice=read_choice(choice_file)), []
    return list(runs), comparison_candidates(config)


def _cached_calibration():
    return calibration.load(), calibration.cores()


def dry_run_line(runs, study_dir: str, jobs: int, configfile: str | None, config=None) -> str:
    """What the workflow prints on a dry run: from a cached calibration, else how to get one.
    Never calibrates (that would run on every parse, in every cluster job)."""
    if os.environ.get(QUIET):
        return ""
    cached, cores = _cached_calibration()
    if cached is None:
        return (
            f"estimate: no calibration for this machine yet; `ablate estimate "
            f"{configfile or 'config.yaml'} --cores {jobs}` measures one (~20 s) and predicts "
            "the wall time"
        )
    costs, info = cached
    runs, later = study_runs(config or {}, runs, study_dir)
    plan = pending_by_files(runs, study_dir=study_dir)
    # what was measured before; never measures here
    step_s = step_times.for_runs([*runs, *(r for c in later for r in c)])
    parse_s = info.get("snakemake_parse_s")
    result = estimate(runs, plan, costs, jobs, cores, parse_s=parse_s, step_s=step_s, later=later)
    return one_line(result) + " (run files checked; `ablate estimate` asks Snakemake)"


def workflow_estimate(config: dict, runs, study: str, jobs: int, out: str) -> None:
    """The estimate rule's job: the prediction for this invocation, before its runs train,
    into results/<study>/estimate.json (calibrating here if needed: a job may)."""

    costs, info = calibration.load_or_calibrate(log=lambda m: print(m, file=sys.stderr))
    runs, later = study_runs(config, runs, f"results/{study}")
    plan = pending_by_files(runs, study_dir=f"results/{study}")
    todo = [r for r in runs if r.run_id in plan.train] + [r for c in later for r in c]
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    step_s = step_times.for_runs([*runs, *todo], measure=todo, log=log)
    result = estimate(
        runs,
        plan,
        costs,
        jobs,
        calibration.cores(),
        parse_s=info.get("snakemake_parse_s"),
        step_s=step_s,
        later=later,
    )
    result["study"] = study
    result["calibration"] = info
    atomic_write_bytes(Path(out), json.dumps(result, indent=1).encode())
