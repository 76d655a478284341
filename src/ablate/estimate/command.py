"""``ablate estimate CONFIG [--cores N] [--json]``: the study's runs, how many Snakemake
would skip, and the predicted wall time here (calibrating this machine first if needed)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from ablate.estimate import calibration, step_times
from ablate.estimate.prediction import (
    estimate,
    one_line,
    pending_by_files,
    pending_by_snakemake,
    study_runs,
)
from ablate.store.atomic import atomic_write_bytes
from ablate.study.expand import ConfigError, expand_study, load_config


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_estimate(args) -> int:
    try:
        config = load_config(args.config)
        runs = expand_study(config)
    except ConfigError as e:
        _err(str(e))
        return 2
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        _err(f"cannot read the config {args.config}: {e}")
        return 2
    costs, info = calibration.load_or_calibrate(again=args.recalibrate, log=_err)
    runs, later = study_runs(config, runs, f"results/{config['study']}")
    plan = None
    if args.cached_by == "snakemake":
        try:
            plan = pending_by_snakemake(args.config)
            info["snakemake_parse_s"] = round(plan.parse_s, 2)
            calibration.save(costs, info)  # what a parse costs, for estimates without one
        except (RuntimeError, OSError) as e:
            _err(f"{e}\nfalling back to checking the run files")
    if plan is None:
        plan = pending_by_files(runs, study_dir=f"results/{config['study']}")
    todo = [r for r in runs if r.run_id in plan.train] + [r for c in later for r in c]
    step_s = step_times.for_runs([*runs, *todo], measure=todo, log=_err)  # new shapes, once
    result = estimate(
        runs,
        plan,
        costs,
        args.cores,
        calibration.cores(),
        parse_s=info.get("snakemake_parse_s"),
        step_s=step_s,
        later=later,
    )
    result["study"] = config["study"]
    result["calibration"] = info | {"file": str(calibration.path())}
    text = json.dumps(result, indent=1)
    if args.out:
        atomic_write_bytes(Path(args.out), text.encode())
    print(text if args.json else one_line(result))
    return 0
