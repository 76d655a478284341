"""Writing the report: the page (``write_report``), its header and its exports, from the
study and analysis tables."""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import sys
import time
from pathlib import Path

import pandas as pd

import ablate.analysis
from ablate.analysis.analyse import COLUMNS as ANALYSIS_COLUMNS
from ablate.analysis.load import StudyError, read_runs, read_study_json, read_table
from ablate.report import difference_findings, findings, panels
from ablate.report.estimate_check import duration, estimate_vs_actual
from ablate.report.exports import write_exports
from ablate.report.leaderboard import OTHER_COLOR, STATUS_COLORS, table_block
from ablate.report.page import Page
from ablate.report.sections import task_view
from ablate.store.atomic import atomic_write_bytes
from ablate.store.tables import ANALYSIS, FAILURE_COLUMNS, TABLES

__all__ = ["write_report"]

STUDY_TABLES = list(TABLES)  # runs.parquet is read (and checked) by read_runs
HELPERS = {"load", "families", "analyse"}  # analysis modules that state no rule of their own
METHODS = [
    importlib.import_module(f"ablate.analysis.{m.name}")
    for m in sorted(pkgutil.iter_modules(ablate.analysis.__path__), key=lambda m: m.name)
    if m.name not in HELPERS
] + [findings, difference_findings, panels]


def write_report(
    study_dir: str | Path,
    out_html: str | Path,
    exports_dir: str | Path | None = None,
    chart_files: bool = True,
) -> dict[str, float]:
    """Write the page and its exports (default: out_html without its suffix, a folder;
    chart_files=False leaves out the SVG/PNG charts). Returns the seconds spent per part."""
    study_dir, out_html = Path(study_dir), Path(out_html)
    exports_dir = Path(exports_dir) if exports_dir else out_html.with_suffix("")
    t0 = time.perf_counter()
    meta = read_study_json(study_dir)
    tables = {"runs": read_runs(study_dir)}
    tables |= {name: read_table(study_dir, name, required=False) for name in STUDY_TABLES}
    tables |= read_analysis(study_dir)
    link = Path(os.path.relpath(exports_dir, out_html.parent)).as_posix()
    page, context = build_page(meta, tables, link)
    every_run = read_runs(study_dir, stage=None)  # the tuning runs took time too
    context["header"]["fields"] += estimate_vs_actual(study_dir, every_run)
    atomic_write_bytes(out_html, page.render(**context).encode("utf-8"))
    t1 = time.perf_counter()
    charts = {page.names[ident]: spec for ident, spec in page.specs.items() if chart_files}
    times = write_exports(exports_dir, tables["leaderboard"], context["study"], charts)
    times |= {"page_s": t1 - t0, "total_s": time.perf_counter() - t0}
    print(
        f"report: {out_html} in {times['page_s']:.1f} s; {exports_dir}/ ({len(charts)} charts "
        f"as SVG+PNG) in {times['tables_s'] + times['charts_s']:.1f} s",
        file=sys.stderr,
    )
    return times


def read_analysis(study_dir: Path) -> dict[str, pd.DataFrame]:
    rerun = f"rerun `ablate analyse --study-dir {study_dir}`"
    out = {}
    for name in ANALYSIS:
        columns = ANALYSIS_COLUMNS[name]
        path = study_dir / "analysis" / f"{name}.parquet"
        if not path.exists():
            raise StudyError(f"{path} is missing: {rerun}")
        frame = pd.read_parquet(path)
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise StudyError(
                f"{path} lacks column(s) {missing}: it was written by an older version; {rerun}"
            )
        out[name] = frame
    out["length"] = length_wide(out["length"])
    return out


def length_wide(length: pd.DataFrame) -> pd.DataFrame:
    """analysis/length.parquet (one row per metric) as one row per (task, variant, multiple):
    loss_mean, loss_ci_lo, loss_ci_hi, acc_mean and n (the loss's)."""
    keys = ["task", "variant", "multiple", "seq_len"]
    loss = length[length["metric"] == "loss"].rename(
        columns={"mean": "loss_mean", "ci_lo": "loss_ci_lo", "ci_hi": "loss_ci_hi"}
    )[[*keys, "loss_mean", "loss_ci_lo", "loss_ci_hi", "n"]]
    acc = length[length["metric"] == "token_acc"].rename(columns={"mean": "acc_mean"})
    return loss.merge(acc[[*keys, "acc_mean"]], on=keys, how="left").reset_index(drop=True)


def build_page(meta: dict, tables: dict[str, pd.DataFrame], exports: str) -> tuple[Page, dict]:
    study = str(meta.get("study", "study"))
    runs = tables["runs"]
    page = Page(f"{study}: ablation report", export_prefix=exports)
    tasks = []
    for task in sorted(runs["task"].unique()):
        t = {name: _for_task(frame, task) for name, frame in tables.items()}
        reference = _reference(t["seeds"], meta.get("baseline", "baseline"))
        tasks.append(task_view(page, task, t, reference))
    context = {
        "study": study,
        "header": header(meta, runs, exports),
        "tasks": tasks,
        "failures": table_block(
            tables["failures"], FAILURE_COLUMNS, {}, frozenset({"status"}), WRAPPED
        ),
        "methods": [(m.__name__, inspect.getdoc(m) or "") for m in METHODS],
    }
    return page, context


def _for_task(frame: pd.DataFrame, task: str) -> pd.DataFrame:
    return frame[frame["task"] == task] if "task" in frame.columns else frame


def _reference(seeds: pd.DataFrame, baseline: str) -> str:
    """The variant the task's differences are against (analysis picked it per task)."""
    refs = seeds["reference"].dropna().unique()
    return str(refs[0]) if len(refs) else baseline


def header(meta: dict, runs: pd.DataFrame, exports: str) -> dict:
    unique = runs.drop_duplicates("run_id")
    counts = runs["status"].value_counts()
    flops = pd.to_numeric(unique["flops"], errors="coerce").sum()
    wall = pd.to_numeric(unique["wall_s"], errors="coerce").sum()
    items = [
        ("runs", f"{len(runs)} ({len(unique)} distinct: a run shared by variants counts once)"),
        ("tasks", ", ".join(sorted(runs["task"].unique()))),
        ("variants", str(runs["variant"].nunique())),
        ("seeds", ", ".join(str(s) for s in sorted(runs["seed"].unique()))),
        ("diverged", str(int(counts.get("diverged", 0)))),
        ("compute", f"{flops:.3g} FLOPs, {duration(wall)} of run wall time"),
        *tuning_field(meta),
        ("config hash", str(meta.get("config_hash", "—"))),
        ("created", str(meta.get("created", "—"))),
    ]
    files = ["leaderboard.md", "leaderboard.tex", "leaderboard.csv"]
    return {
        "fields": items,
        "statuses": [(f"{counts[s]} {s}", STATUS_COLORS.get(s, OTHER_COLOR)) for s in counts.index],
        "exports": [(f, f"{exports}/{f}") for f in files] + [("charts (SVG, PNG)", f"{exports}/")],
    }


def tuning_field(meta: dict) -> list[tuple[str, str]]:
    tune = meta.get("tune")
    if not tune:
        return []
    grid = "; ".join(f"{k} in {v}" for k, v in tune["grid"].items())
    seeds = ", ".join(map(str, tune["seeds"]))
    return [("tuning", f"{grid}, on tuning seeds {seeds}: statistics use the study seeds only")]


WRAPPED = frozenset({"reason", "log"})
