"""Study analysis: Parquet tables in, Parquet tables out (results/<study>/analysis/).

    from ablate.analysis import analyse_study
    tables = analyse_study("results/ablations")   # {name: DataFrame}, also written to disk

Reads only the study tables (runs, probes, evals), so it reruns on old results without
training. Each table has its own module, whose docstring states the rule it computes:
  seeds            seeds.py           mean, t-interval; paired t-test vs baseline, Holm
  stability        stability.py       components, score and tier
  lr_sensitivity   lr_sensitivity.py  Wortsman et al. 2023 LR sensitivity per LR family
  lr_curves                           loss against lr per family
  scaling_points   scaling.py         one point per variant of each one-key scaling family
  scaling_fits                        L = E + A x^-alpha fits, CIs, extrapolation, bottlenecks
  effects          effects.py         main effects and 2-way interactions of factorial grids
  length           length.py          loss and accuracy at 1x, 2x, 4x the training length
  leaderboard      ranking.py         per-task order: failure rate, then mean final val loss;
                                      ties with the best (multiple comparisons with the best)
  failures                            every run whose status is not ok
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

# modules, not their functions: `lr_sensitivity` would otherwise shadow its own module
from ablate.analysis import effects, length, lr_sensitivity, ranking, scaling, seeds, stability
from ablate.analysis.load import read_runs, read_study_json, read_table
from ablate.config import StatusRules
from ablate.io import write_parquet
from ablate.tables import ANALYSIS

__all__ = ["analyse_study"]


def analyse_study(study_dir: str | Path) -> dict[str, pd.DataFrame]:
    study_dir = Path(study_dir)
    runs = read_runs(study_dir)
    probes = read_table(study_dir, "probes", required=False)
    evals = read_table(study_dir, "evals", required=False)
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
        "effects": effects.effects(runs),
        "length": length.length_table(runs, evals),
        "leaderboard": ranking.leaderboard(runs, seed_table, stability_components),
        "failures": ranking.failures(runs),
    }
    # tables.ANALYSIS names every analysis table; the report reads that list
    assert set(tables) == set(ANALYSIS), sorted(set(tables) ^ set(ANALYSIS))
    out = study_dir / "analysis"
    for name, frame in tables.items():
        write_parquet(out / f"{name}.parquet", frame)
    return tables
