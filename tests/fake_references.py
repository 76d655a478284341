"""Reference files for a fake study (tests/fake_study.py), as the workflow writes them:
one per task in results/references/ beside the study, listed in study.json as collect
lists them.

    write_references(study_dir, runs)
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
from fake_study import TASK

# shakespeare_char's references as `ablate references` measures them (seq_len 64), and a
# synthetic task's (chance ln 32 = its unigram, best 0)
TEXT = {"unigram": 3.34, "bigram": 2.55, "trigram": 2.02, "4-gram": 1.71, "5-gram": 1.56}
SYNTHETIC = {"unigram": math.log(32), "chance": math.log(32), "best": 0.0}


def write_references(study_dir: str | Path, runs: pd.DataFrame) -> dict[str, str]:
    """Returns task -> its reference key."""
    study_dir = Path(study_dir)
    meta = json.loads((study_dir / "study.json").read_text())
    meta["references"], keys = [], {}
    for i, (task, task_runs) in enumerate(runs.groupby("task", sort=True)):
        values = TEXT if task == TASK else SYNTHETIC
        keys[task] = key = f"{i:016x}"
        rows = [
            {"reference": name, "seq_len": 64, "val_loss": value, "method": "fake"}
            for name, value in values.items()
        ]
        path = study_dir.parent / "references" / f"{key}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows).to_parquet(path)
        variants = list(dict.fromkeys(task_runs["variant"]))
        meta["references"].append({"task": task, "key": key, "variants": variants})
    (study_dir / "study.json").write_text(json.dumps(meta))
    return keys
