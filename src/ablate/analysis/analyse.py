"""Every analysis table of a study, computed and written (``analyse_study``), and the
columns each one has (``COLUMNS``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

# modules, not their functions: `lr_sensitivity` would otherwise shadow its own module
from ablate.analysis import (
    effects,
    length,
    lr_sensitivity,
    ranking,
    reference_losses,
    scaling,
    scaling_variants,
    seeds,
    stability,
    tuning_choice,
)
from ablate.analysis.load import read_runs, read_study_json, read_table
from ablate.spec.config import StatusRules
from ablate.spec.stages import TUNE
from ablate.store.atomic import write_parquet
from ablate.store.tables import ANALYSIS, FAILURE_COLUMNS

__all__ = ["analyse_study", "COLUMNS"]

# Every analysis table (tables.ANALYSIS) -> the columns it has: each module states its own;
# the stability table and the leaderboard carry more than these. The report refuses an
# analysis without them (one written by an older version).
COLUMNS: dict[str, list[str]] = {
    "seeds": seeds.COLUMNS,
    "stability": ["task", "variant", "n_runs", "score", "tier"],
    "lr_sensitivity": lr_sensitivity.SUMMARY_COLUMNS,
    "lr_curves": lr_sensitivity.CURVE_COLUMNS,
    "scaling_points": scaling.POINT_COLUMNS,
    "scaling_fits": scaling.FIT_COLUMNS,
    "effects": effects.COLUMNS,
    "length": length.COLUMNS,
    "leaderboard": [*ranking.COLUMNS, *scaling_variants.BOARD_COLUMNS],
    "failures": list(FAILURE_COLUMNS),
    "references": reference_losses.COLUMNS,
    "tuning": tuning_choice.COLUMNS,
    "scaling_variants": scaling_variants.COLUMNS,
    "ladder_points": scaling_variants.POINT_COLUMNS,
}


def analyse_study(
    study_dir: str | Path, references_dir: str | Path | None = None
) -> dict[str, pd.DataFrame]:
    """references_dir: where the study's reference files are (default results/references/,
    beside the study directory)."""
    study_dir = Path(study_dir)
    references_dir = references_dir or reference_losses.default_dir(study_dir)
    study = read_study_json(study_dir)
    tune = study.get("tune")
    # the comparison's runs; a tuned key's value is then no part of what a variant is (each
    # runs at its own best), so families, grids and scaling compare them as configured
    runs = as_configured(read_runs(study_dir), tune)
    probes = read_table(study_dir, "probes", required=False)
    evals = read_table(study_dir, "evals", required=False)
    baseline = study.get("baseline", "baseline")
    rules = StatusRules(**study.get("status_rules", {}))
    seed_table = seeds.seed_stats(runs, baseline)
    stability_components = stability.stability_table(runs, probes, rules)
    lr_summary, lr_curves = lr_sensitivity.lr_sensitivity(runs, baseline)
    ladder_runs = as_configured(ladders(study_dir), tune)
    points = scaling.scaling_points(runs, baseline)
    ladder_table = scaling_variants.scaling_variants(ladder_runs, baseline)
    tables = {
        "seeds": seed_table,
        "stability": stability_components,
        "lr_sensitivity": lr_summary,
        "lr_curves": lr_curves,
        "scaling_points": points,
        "scaling_fits": scaling.scaling_fits(runs, points),
        "effects": effects.effects(runs),
        "length": length.length_table(runs, evals),
        "leaderboard": scaling_variants.with_scaling(
            ranking.leaderboard(runs, seed_table, stability_components), ladder_table
        ),
        "failures": ranking.failures(runs),
        "references": reference_losses.reference_table(study, references_dir),
        "tuning": tuning_table(study_dir, tune),
        "scaling_variants": ladder_table,
        "ladder_points": scaling_variants.ladder_points(ladder_runs),
    }
    # tables.ANALYSIS names every analysis table; the report reads that list
    assert set(tables) == set(ANALYSIS) == set(COLUMNS), sorted(set(tables) ^ set(ANALYSIS))
    for name, frame in tables.items():
        missing = [c for c in COLUMNS[name] if c not in frame.columns]
        assert not missing, f"analysis table {name} lacks {missing}"
    out = study_dir / "analysis"
    for name, frame in tables.items():
        write_parquet(out / f"{name}.parquet", frame)
    return tables


def as_configured(runs: pd.DataFrame, tune: dict | None) -> pd.DataFrame:
    """The runs with each tuned key at the base config's value (study/tuning.py: no variant
    sets a tuned key itself, so this is what every variant is, tuning aside)."""
    if not tune:
        return runs
    return runs.assign(**{key: value for key, value in tune["base_point"].items()})


def ladders(study_dir: Path) -> pd.DataFrame:
    """The runs of every variant's size ladder, its own runs among them (study/ladder.py)."""
    runs = read_runs(study_dir, rungs=True)
    return runs[runs["ladder"] != ""].reset_index(drop=True)


def tuning_table(study_dir: Path, tune: dict | None) -> pd.DataFrame:
    if not tune:
        return pd.DataFrame(columns=tuning_choice.COLUMNS)
    tune_runs = read_runs(study_dir, stage=TUNE, rungs=True)  # a ladder's tuned rungs too
    return tuning_choice.tuning_table(tune_runs, tune["grid"], tune["base_point"])
