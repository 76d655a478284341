"""The study report: one self-contained, offline HTML page.

    from ablate.report import write_report
    write_report("results/ablations", "reports/ablations.html")

Reads the study tables and the analysis tables (results/<study>/analysis/, written by
ablate.analysis.analyse_study); draws with Altair; inlines Vega once (report/page.py).
"""

from __future__ import annotations

import inspect
from html import escape
from pathlib import Path

import pandas as pd

from ablate.analysis import lr_sensitivity, ranking, scaling, scaling_fit, seeds, stability
from ablate.analysis.load import StudyError, read_runs, read_study_json, read_table
from ablate.io import atomic_write_bytes
from ablate.report.html import STATUS_COLORS, badge, frame_html, header_html
from ablate.report.page import Page
from ablate.report.sections import task_sections
from ablate.tables import ANALYSIS, FAILURE_COLUMNS, TABLES

__all__ = ["write_report"]

STUDY_TABLES = list(TABLES)  # runs.parquet is read (and checked) by read_runs
ANALYSIS_TABLES = list(ANALYSIS)
METHODS = [seeds, stability, ranking, lr_sensitivity, scaling, scaling_fit]


def write_report(study_dir: str | Path, out_html: str | Path) -> None:
    study_dir, out_html = Path(study_dir), Path(out_html)
    meta = read_study_json(study_dir)
    tables = {"runs": read_runs(study_dir)}
    tables |= {name: read_table(study_dir, name, required=False) for name in STUDY_TABLES}
    tables |= read_analysis(study_dir)
    page = build_page(meta, tables)
    atomic_write_bytes(out_html, page.render().encode("utf-8"))


def read_analysis(study_dir: Path) -> dict[str, pd.DataFrame]:
    out = {}
    for name in ANALYSIS_TABLES:
        path = study_dir / "analysis" / f"{name}.parquet"
        if not path.exists():
            raise StudyError(f"{path} is missing: run `ablate analyse --study-dir {study_dir}`")
        out[name] = pd.read_parquet(path)
    return out


def build_page(meta: dict, tables: dict[str, pd.DataFrame]) -> Page:
    study = str(meta.get("study", "study"))
    runs = tables["runs"]
    tasks = sorted(runs["task"].unique())
    page = Page(f"{study}: ablation report")
    page.add(f"<h1>{escape(study)}</h1>")
    page.add(header_html(meta, runs))
    links = [f'<a href="#task-{escape(t)}">{escape(t)}</a>' for t in tasks]
    page.add(
        "<p>Tasks: " + " · ".join(links) + ' · <a href="#failures">failures</a> · '
        '<a href="#methods">methods</a></p>'
    )
    reference = meta.get("baseline", "baseline")
    for task in tasks:
        task_tables = {name: _for_task(frame, task) for name, frame in tables.items()}
        task_sections(page, task, task_tables, reference)
    failures_section(page, tables["failures"])
    methods_section(page)
    return page


def _for_task(frame, task: str):
    return frame[frame["task"] == task] if "task" in frame.columns else frame


def failures_section(page: Page, failures: pd.DataFrame) -> None:
    page.heading("Failures", 2, anchor="failures")
    if failures.empty:
        page.note("Every run finished with status ok.", "empty")
        return
    shown = failures.assign(
        status=[badge(s, STATUS_COLORS.get(s, "#57606a")) for s in failures["status"]]
    )
    html = frame_html(shown, FAILURE_COLUMNS, {}, html_columns={"status"})
    page.add(f'<div class="scroll">{html}</div>')


def methods_section(page: Page) -> None:
    page.heading("Methods", 2, anchor="methods")
    page.note("The rules behind every number above, as stated in the code that computes them.")
    for module in METHODS:
        doc = escape(inspect.getdoc(module) or "")
        name = escape(module.__name__)
        page.add(
            f'<details open><summary><code>{name}</code></summary><pre class="method">'
            f"{doc}</pre></details>"
        )
