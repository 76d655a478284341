"""Reference losses: where a task's losses stand against models that need no training.

For text tasks, count-based n-gram models of order 1 to 5 fitted on the train split with
interpolated modified Kneser-Ney smoothing (Chen & Goodman 1999: discounts D1, D2, D3+ per
order from the count-of-counts; a context never seen backs off to the next lower order,
down to a uniform distribution over the vocabulary), scored on the very validation windows
the runs are scored on, each position seeing only the tokens of its window before it. For
synthetic tasks, chance (ln of how many tokens a scored position can take), the best
possible loss (0: every scored token is determined by the tokens before it) and the
task's context-free baseline_loss as the unigram.

They are computed once per data config of the study by a workflow job (``ablate
references``: ablate.data.references) into results/references/<key>.parquet; this table
gathers the files the study lists (study.json, from the manifest) and names, per row, the
study's task and the variants that run on that data config. A study that lists none (one
collected by an older version) gets an empty table.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ablate.analysis.load import StudyError
from ablate.store.tables import REFERENCE_COLUMNS, REFERENCE_DIR, REFERENCE_KEYS

COLUMNS = [*REFERENCE_KEYS, *REFERENCE_COLUMNS]


def default_dir(study_dir: str | Path) -> Path:
    """results/references/, beside the study directory results/<study>/."""
    return Path(study_dir).resolve().parent / REFERENCE_DIR


def reference_table(study: dict, references_dir: str | Path) -> pd.DataFrame:
    """study: study.json, whose ``references`` lists {task, key, variants} per data config."""
    frames = []
    for entry in study.get("references") or []:
        path = Path(references_dir) / f"{entry['key']}.parquet"
        if not path.exists():
            raise StudyError(
                f"{path} is missing (the references of task {entry['task']!r}): compute it "
                f"with `ablate references --spec SPEC.yaml --out {path}` (SPEC.yaml: the "
                "spec.yaml of a run on that data config), or let snakemake build it"
            )
        frame = pd.read_parquet(path)
        missing = [c for c in REFERENCE_COLUMNS if c not in frame.columns]
        if missing:
            raise StudyError(f"{path} lacks column(s) {missing}: recompute it")
        variants = [list(entry["variants"])] * len(frame)
        frames.append(frame.assign(task=entry["task"], data_key=entry["key"], variants=variants))
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(frames, ignore_index=True)[COLUMNS]
