"""Fit the cost model's coefficients (``ablate.estimate.cost.Costs``) to calibration timings.

Each component is fitted on its own by least squares over its own features: the seconds
inside training steps against (steps, steps x layers, training FLOPs), the seconds inside
evals against (batches, batches x layers, forward FLOPs), the probes against (probes,
probes x layers). A coefficient the fit makes negative (noise on a term too small to see)
is dropped and the rest refitted: no component costs less than nothing. What a first run
takes beyond its steps, evals and probes, plus what a job's own process costs before the
warm server takes its command and the import of ablate's own modules (each command of the
warm server imports them afresh), is the per-run cost; the interpreter and torch imported
from cold is paid once per study (the warm server's start) or per job where there is no
warm server (Slurm). Pure numpy, no torch.
"""

from __future__ import annotations

import numpy as np

from ablate.estimate.cost import TRAIN_FEATURES, Costs

STEP = TRAIN_FEATURES
EVAL = ("eval_batches", "eval_batch_layers", "eval_flops")
PROBE = ("probes", "probe_layers")


def least_squares(rows: list[dict], seconds: list[float], names: tuple[str, ...]) -> dict:
    """Non-negative coefficients of ``names`` with seconds ~ sum(coef * row[name]).

    Columns are scaled to unit norm first: FLOPs (1e9) and counts (1e1) in one matrix would
    otherwise leave the solve ill-conditioned.
    """
    active = list(names)
    y = np.asarray(seconds, dtype=float)
    while active:
        x = np.array([[row[name] for name in active] for row in rows], dtype=float)
        scale = np.linalg.norm(x, axis=0)
        scale[scale == 0] = 1.0
        coef = np.linalg.lstsq(x / scale, y, rcond=None)[0] / scale
        if (coef >= 0).all():
            fitted = dict(zip(active, coef.tolist(), strict=True))
            return {name: fitted.get(name, 0.0) for name in names}
        active.pop(int(np.argmin(coef * scale)))  # the most negative term goes
    return dict.fromkeys(names, 0.0)


def component(samples: list[dict], key: str, names: tuple[str, ...]) -> dict:
    return least_squares([s["features"] for s in samples], [s[key] for s in samples], names)


def fit_costs(measured: dict, warm_start: float) -> Costs:
    """Costs from the calibration worker's timings (calibration_worker.main) and what a
    job's own process costs before the warm server runs it (``warm_start``)."""
    warm = measured["warm"]
    coef = component(warm, "train_s", STEP) | component(warm, "eval_s", EVAL)
    coef |= component(warm, "probe_s", PROBE)
    cold = measured["cold"]
    explained = sum(coef[name] * cold["features"][name] for name in (*STEP, *EVAL, *PROBE))
    shared = measured["shared_step_s"]
    at_once = sum(shared) / len(shared)
    return Costs(
        run=warm_start + measured["ablate_import_s"] + max(0.0, cold["wall_s"] - explained),
        cold_start=measured["startup_s"],
        text_bytes=measured["text_byte_s"],
        contention=min(1.0, measured["step_s"] / at_once),
        **study_costs(measured["study_s"]),
        **coef,
    )


# The study steps whose work grows with every run of a study (each run's tables are read
# and analysed). The report's grows with its panels and charts, which a study's variants and
# groups set, not its runs: a 75-run study's report took 2.7x a 5-run study's, where a
# line through 2 and 5 runs said 15x. It is counted at the size measured.
PER_RUN_STEPS = ("references", "collect", "analyse")


def study_costs(study_s: dict) -> dict:
    """study_s and study_run_s of Costs from the study steps' seconds on studies of two
    sizes ({runs: {command: seconds}}; the smaller with PER_RUN_STEPS only): what each run
    adds to PER_RUN_STEPS (the slope between the sizes, never falling), and the rest of the
    larger study's seconds as the fixed part."""
    (small, parts_small), (large, parts_large) = sorted(
        (int(n), parts) for n, parts in study_s.items()
    )

    def per_run_steps(parts: dict) -> float:
        return sum(v for k, v in parts.items() if k in PER_RUN_STEPS)

    per_run = max(0.0, (per_run_steps(parts_large) - per_run_steps(parts_small)) / (large - small))
    return {"study_s": sum(parts_large.values()) - per_run * large, "study_run_s": per_run}
