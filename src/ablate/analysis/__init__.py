"""Study analysis: Parquet tables in, Parquet tables out (results/<study>/analysis/).

    from ablate.analysis import analyse_study
    tables = analyse_study("results/ablations")   # {name: DataFrame}, also written to disk

Reads only the study tables (runs, probes), so it reruns on old results without training.
Each table has its own module, whose docstring states the rule it computes:
  seeds            seeds.py           mean / std / bootstrap CI, paired difference vs baseline
  stability        stability.py       components, score and tier
  lr_sensitivity   lr_sensitivity.py  Wortsman et al. 2023 LR sensitivity per LR family
  lr_curves                           loss against lr per family
  scaling_points   scaling.py         one point per variant of each scaling family
  scaling_fits                        L = E + A x^-alpha fits, CIs, extrapolation, bottlenecks
  leaderboard      ranking.py         per-task rank: tier, then mean final val loss
  failures                            every run whose status is not ok
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

# modules, not their functions: `lr_sensitivity` would otherwise shadow its own module
from ablate.analysis import lr_sensitivity, ranking, scaling, seeds, stability
from ablate.analysis.load import read_runs, read_study_json, read_table
from ablate.config import StatusRules
from ablate.io import write_parquet

__all__ = ["analyse_study"]


def analyse_study(study_dir: str | Path) -> dict[str, pd.DataFrame]:
    study_dir = Path(study_dir)
    runs = read_runs(study_dir)
    probes = read_table(study_dir, "probes", required=False)
    study = read_study_json(study_dir)
    baseline = study.get("baseline", "baseline")
    rules = StatusRules(**study.get("status_rules", {}))
    seed_table = seeds.seed_stats(runs, baseline)
    stability_components = stability.stability_table(runs, probes, rules)
    lr_summary, lr_curves = lr_sensitivity.lr_sensitivity(runs, baseline)
    points = scaling.scaling_points(runs, baseline)
    tables = {
        "seeds": seed_table,
        "stability": stability_components,
        "lr_sensitivity": lr_summary,
        "lr_curves": lr_curves,
        "scaling_points": points,
        "scaling_fits": scaling.scaling_fits(runs, points),
        "leaderboard": ranking.leaderboard(runs, seed_table, stability_components),
        "failures": ranking.failures(runs),
    }
    out = study_dir / "analysis"
    for name, frame in tables.items():
        write_parquet(out / f"{name}.parquet", frame)
    return tables
