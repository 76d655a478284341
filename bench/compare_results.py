"""Compare two results/ trees of one study, e.g. before and after a refactor.

    python bench/compare_results.py BEFORE/results AFTER/results --study tiny --dropped flops

Checks that the study has the same runs under the same ids, that every run directory's
tables and summary.json are bit-identical except the timing columns
(tables.EXECUTION_COLUMNS) and the summary keys named by --dropped, and lists every
study-table column that was added, removed or whose values changed. If BEFORE's runs.parquet
has the old JSON ``spec`` column and AFTER's the flat spec columns, checks that they hold
the same values. Exit status 1 if a run id, a per-run value or a spec value differs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from ablate.analysis.load import spec_values
from ablate.store.tables import EXECUTION_COLUMNS, STUDY_TABLES, TABLES

# columns that name where files are, not what they hold
PATH_COLUMNS = ("log",)


def run_ids(results: Path, study: str) -> dict[tuple, str]:
    runs = pd.read_parquet(results / study / "runs.parquet")
    return {(r.task, r.variant, r.seed): r.run_id for r in runs.itertuples()}


def compare_run(before: Path, after: Path, dropped: set[str]) -> list[str]:
    """Differences of one run directory, timing columns and dropped summary keys aside."""
    problems = []
    for name in TABLES:
        a, b = (pd.read_parquet(d / f"{name}.parquet") for d in (before, after))
        keep = [c for c in a.columns if c not in EXECUTION_COLUMNS]
        if list(a.columns) != list(b.columns):
            problems.append(f"{name}: columns {list(a.columns)} -> {list(b.columns)}")
        elif not a[keep].equals(b[keep]):
            problems.append(f"{name}: values differ")
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (before, after))
    for key in sorted(set(sa) | set(sb)):
        if key in EXECUTION_COLUMNS or (key in dropped and key not in sb):
            continue
        if key not in sb or key not in sa:
            problems.append(f"summary.json: {key} {'removed' if key in sa else 'added'}")
        elif json.dumps(sa[key]) != json.dumps(sb[key]):  # NaN-safe, bit-exact for floats
            problems.append(f"summary.json: {key} {sa[key]!r} -> {sb[key]!r}")
    return problems


def compare_table(before: Path, after: Path, name: str) -> dict[str, list[str]]:
    """Study table columns added, removed, and changed (values, rows in the same order)."""
    a, b = pd.read_parquet(before), pd.read_parquet(after)
    keys = ["run_id", "variant", "seed", "task"]
    extra = [c for c in ("step", "split", "seq_len", "layer", "head", "metric", "module",
                         "query", "key") if c in a.columns and c in b.columns]  # fmt: skip
    a = a.sort_values(keys + extra, kind="stable").reset_index(drop=True)
    b = b.sort_values(keys + extra, kind="stable").reset_index(drop=True)
    shared = [c for c in a.columns if c in b.columns]
    changed = []
    for c in shared:
        if c in EXECUTION_COLUMNS or c in PATH_COLUMNS:
            continue
        if len(a) != len(b) or not a[c].equals(b[c]):
            changed.append(c)
    return {
        "removed": [c for c in a.columns if c not in b.columns],
        "added": [c for c in b.columns if c not in a.columns],
        "changed": changed,
    }


def compare_spec_columns(before: Path, after: Path) -> list[str]:
    """The old JSON spec column against the flat columns, row by row (seeds aside)."""
    a, b = pd.read_parquet(before), pd.read_parquet(after)
    if "spec" not in a.columns or "spec" in b.columns:
        return []
    problems = []
    key = ["task", "variant", "seed"]
    a, b = a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True)
    for row, flat in zip(a.itertuples(), spec_values(b), strict=True):
        spec = json.loads(row.spec)
        want = {f"{s}.{k}": v for s in ("model", "train", "data") for k, v in spec[s].items()}
        if want != flat:
            problems.append(f"{row.variant} seed {row.seed}: spec columns differ from spec")
    if a["spec"].map(lambda s: json.loads(s)["data_seed"]).tolist() != b["data_seed"].tolist():
        problems.append("data_seed differs from spec")
    return problems


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before", type=Path)
    p.add_argument("after", type=Path)
    p.add_argument("--study", default="tiny")
    p.add_argument("--dropped", nargs="*", default=[], help="summary.json keys meant to go")
    args = p.parse_args()
    ids_a, ids_b = run_ids(args.before, args.study), run_ids(args.after, args.study)
    ok = ids_a == ids_b
    print(f"run ids: {len(ids_a)} before, {len(ids_b)} after, identical: {ok}")
    for run_id in sorted(set(ids_a.values()) & set(ids_b.values())):
        before, after = args.before / "runs" / run_id, args.after / "runs" / run_id
        problems = compare_run(before, after, set(args.dropped))
        ok &= not problems
        print(f"run {run_id}: " + ("identical (timing aside)" if not problems else ""))
        for problem in problems:
            print(f"    {problem}")
    for name in STUDY_TABLES:
        paths = [d / args.study / f"{name}.parquet" for d in (args.before, args.after)]
        diff = compare_table(*paths, name)
        said = "; ".join(f"{k} {v}" for k, v in diff.items() if v)
        print(f"{name}.parquet: {said or 'identical (timing and paths aside)'}")
    runs = [d / args.study / "runs.parquet" for d in (args.before, args.after)]
    problems = compare_spec_columns(*runs)
    ok &= not problems
    print("spec columns hold the old spec's values: " + ("; ".join(problems) or "yes"))
    a, b = (pd.read_parquet(p).set_index(["variant", "seed"]) for p in runs)
    flops = pd.DataFrame({"old": a["flops"], "new": b["flops"], "new/old": b["flops"] / a["flops"]})
    print(f"flops:\n{flops.to_string()}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
