"""The HTML report: self-contained, complete, small, and drawn without errors in a browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from fake_references import write_references
from fake_study import default_runs, fake_runs, run_row, write_study

from ablate.analysis.analyse import analyse_study
from ablate.analysis.load import StudyError
from ablate.report.chart_data import MAX_POINTS, seed_band
from ablate.report.exports import tex_escape
from ablate.report.panels import MAX_PER_PANEL, colours, panels
from ablate.report.write import write_report

# charts of the fake study: shakespeare_char has all 10, induction has no LR sweep, no
# scaling family and no factorial grid; each task adds its 5 training-dynamics charts
N_CHARTS = 10 + 7 + 2 * 5
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    runs = default_runs()
    study = write_study(root / "fake", runs)
    write_references(study, runs)  # the loss charts draw them
    analyse_study(study)
    out = root / "reports" / "fake.html"
    write_report(study, out)
    return out


def test_report_is_one_self_contained_file(report):
    html = report.read_text()
    again = report.parent.parent / "again" / "fake.html"
    write_report(report.parent.parent / "fake", again, chart_files=False)
    assert again.read_text() == html  # deterministic
    # no temp file left; the exports folder beside the page
    assert sorted(p.name for p in report.parent.iterdir()) == ["fake", "fake.html"]
    assert not re.search(r"<script[^>]*\bsrc=|<link\b|@import|<iframe", html)
    assert html.count("vegaEmbed(") >= 1 and html.count("<script>") == 4  # bundle inlined once
    assert html.count('<div class="chart" id=') == N_CHARTS
    assert len(html) < 3_000_000
    for text in (
        "<h1>fake</h1>",
        "0123456789abcdef",
        "Task: induction",
        "Leaderboard",
        "Learning-rate sensitivity",
        "Failures",
        "Methods",
        "100 * (diverged + stalled + collapse + oom rates)",
        "Tier: A stable",
        "no estimate recorded",
        'href="fake/leaderboard.tex"',
        "Samples",
        "&lt;b&gt;baseline&lt;/b&gt; &amp; so",  # a sample's text, escaped
    ):
        assert text in html, text
    # findings come first in each task, before the leaderboard
    task = html[html.index('id="task-shakespeare_char"') :]
    assert task.index("Findings") < task.index("Leaderboard")
    assert "2 of 42 runs diverged: lr=0.03 2/3 seeds (e.g. lr=0.03: loss is nan at step 30)" in task


def test_report_lists_failures_and_ranks(report):
    html = report.read_text()
    failures = html[html.index('id="failures"') : html.index('id="methods"')]
    assert failures.count("diverged</span>") == 2 and failures.count("stalled</span>") == 3
    assert "results/runs/" in failures and "loss is nan at step 30" in failures
    task = html[html.index('id="task-shakespeare_char"') : html.index('id="failures"')]
    board = task[task.index('class="sortable leaderboard"') :]
    board = board[: board.index("</table>")]
    assert board.index(">baseline<") < board.index(">lr=0.03<")  # D tier ranks last
    assert "D broken" in board and "A stable" in board
    induction = html[html.index('id="task-induction"') : html.index('id="task-shakespeare_char"')]
    assert "No learning-rate sweep in this task" in induction
    assert "No scaling family among the compared variants" in induction


def test_sections_without_data_say_so(tmp_path):
    short = {"train.steps": 40, "train.eval_every": 20, "train.probe_every": 20}
    rows = [
        run_row(v, s, short | o)
        for v, o in (("baseline", {}), ("n_head=8", {"model.n_head": 8}))
        for s in (0, 1)
    ]
    study = write_study(tmp_path / "tiny", fake_runs(rows), name="tiny")
    analyse_study(study)
    write_report(study, tmp_path / "tiny.html", chart_files=False)
    html = (tmp_path / "tiny.html").read_text()
    assert "No learning-rate sweep in this task" in html
    assert "No scaling family among the compared variants" in html
    assert "Every run finished with status ok" in html


def test_single_seed_study_with_an_all_diverged_variant(tmp_path):
    short = {"train.steps": 40, "train.eval_every": 20, "train.probe_every": 20}
    boom = {"status": "diverged", "steps_done": 20, "status_step": 20, "final_val_loss": np.nan}
    rows = [run_row("baseline", 0, short), run_row("lr=1", 0, short | {"train.lr": 1.0}, **boom)]
    study = write_study(tmp_path / "one", fake_runs(rows), name="one")
    tables = analyse_study(study)
    board = tables["leaderboard"].set_index("variant")
    assert board.loc["lr=1", "position"] == 2 and board.loc["lr=1", "tier"] == "D"
    assert np.isnan(board.loc["baseline", "val_loss_std"])  # one seed: no spread, no CI
    write_report(study, tmp_path / "one.html", chart_files=False)
    assert "1 diverged" in (tmp_path / "one.html").read_text()


def test_report_needs_the_analysis(tmp_path):
    study = write_study(tmp_path / "s", fake_runs([run_row("baseline", 0)]))
    with pytest.raises(StudyError, match="ablate analyse"):
        write_report(study, tmp_path / "s.html")


def test_report_refuses_an_analysis_written_by_an_older_version(tmp_path):
    study = write_study(tmp_path / "s", fake_runs([run_row("baseline", 0)]))
    analyse_study(study)
    seeds = pd.read_parquet(study / "analysis" / "seeds.parquet")
    seeds.drop(columns="diff_significant").to_parquet(study / "analysis" / "seeds.parquet")
    with pytest.raises(StudyError, match=r"lacks column.*diff_significant.*ablate analyse"):
        write_report(study, tmp_path / "s.html")


def test_seed_band_thins_long_curves_but_keeps_extremes():
    steps = np.arange(1, 1001)
    frame = pd.DataFrame(
        {
            "variant": "v",
            "seed": np.repeat([0, 1], steps.size),
            "step": np.tile(steps, 2),
            "loss": np.concatenate([np.full(steps.size, 2.0), np.full(steps.size, 3.0)]),
        }
    )
    frame.loc[(frame["seed"] == 1) & (frame["step"] == 517), "loss"] = 50.0  # a one-step spike
    band = seed_band(frame, "loss")
    assert len(band) <= MAX_POINTS and band["step"].max() == 1000
    assert band["hi"].max() == 50.0 and band["lo"].min() == 2.0
    assert band["mean"].median() == pytest.approx(2.5)


def test_report_of_a_100_run_study_stays_small(tmp_path):
    runs = default_runs(seeds=range(6), steps=500)  # 96 runs x 500 steps
    study = write_study(tmp_path / "big", runs)
    analyse_study(study)
    write_report(study, tmp_path / "big.html", chart_files=False)
    assert (tmp_path / "big.html").stat().st_size < 10_000_000


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required when CI is set (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path


def test_report_renders_in_headless_chromium(report, tmp_path):
    result = subprocess.run(
        [
            _chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=20000",
            "--window-size=1280,900",
            "--dump-dom",
            report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    dom = result.stdout
    assert result.returncode == 0, result.stderr[-2000:]
    assert dom.count('data-rendered="true"') == N_CHARTS
    assert len(re.findall(r'<svg[^>]*class="marks"', dom)) == N_CHARTS
    errors = re.search(r'<pre id="report-errors"[^>]*>(.*?)</pre>', dom, re.S).group(1)
    warnings = re.search(r'<pre id="report-warnings"[^>]*>(.*?)</pre>', dom, re.S).group(1)
    assert errors == "" and warnings == "", errors + warnings
    assert dom.count("<select") == 6  # variant drop-downs: 3 heatmaps x 2 tasks
    # the leaderboards fit a 1280 px window without scrolling sideways
    boards = re.findall(r'<table class="sortable leaderboard"[^>]*>', dom)
    assert len(boards) == 2 and all('data-fits="true"' in b for b in boards), boards


def test_exports_hold_the_leaderboard_and_every_chart(report):
    exports = report.parent / "fake"
    html = report.read_text()
    stems = re.findall(r'<a href="fake/([^"]+)\.svg">', html)
    assert len(stems) == N_CHARTS == len(set(stems))
    for stem in stems:
        assert (exports / f"{stem}.svg").read_text().startswith("<svg")
        assert (exports / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    board = pd.read_csv(exports / "leaderboard.csv")
    assert len(board) == 16 and {"position", "rank_label", "mark", "variant"} <= set(board.columns)
    md = (exports / "leaderboard.md").read_text()
    assert "## shakespeare\\_char" in md and "| 1 | baseline |" in md  # induction's best
    assert md.count("\\*") >= 1  # significance marked
    tex = (exports / "leaderboard.tex").read_text()
    assert tex.count("\\toprule") == 2 and "shakespeare\\_char" in tex and "$^{*}$" in tex
    assert "95\\% CI" in tex


def test_tex_escape_covers_latex_specials():
    assert tex_escape("a_b 5% $x$ #1 {y} ~ ^ & \\") == (
        r"a\_b 5\% \$x\$ \#1 \{y\} \textasciitilde{} \textasciicircum{} \& \textbackslash{}"
    )


def test_leaderboard_tex_compiles(report, tmp_path):
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        if os.environ.get("CI"):
            pytest.fail("pdflatex is required when CI is set (texlive-latex-recommended)")
        pytest.skip("pdflatex is not installed (apt-get install texlive-latex-recommended)")
    shutil.copy(report.parent / "fake" / "leaderboard.tex", tmp_path)
    (tmp_path / "doc.tex").write_text(
        "\\documentclass{article}\\usepackage{booktabs}\\usepackage[utf8]{inputenc}"
        "\\begin{document}\\input{leaderboard.tex}\\end{document}\n"
    )
    result = subprocess.run(
        [pdflatex, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000


def test_panels_hold_at_most_eight_variants_and_every_variant_once():
    groups = {"model.pos": 3, "size": 12, "train.lr": 1}
    rows = [run_row("baseline", 0)] + [
        run_row(f"{g}-{i}", 0, group=g) for g, n in groups.items() for i in range(n)
    ]
    runs = fake_runs(rows)
    task_panels = panels(runs, "baseline")
    assert [p.title for p in task_panels] == ["model.pos", "size (1/2)", "size (2/2)", "train.lr"]
    assert all(p.variants[0] == "baseline" for p in task_panels)
    assert max(len(p.variants) for p in task_panels) == MAX_PER_PANEL + 1 <= 8
    others = [v for p in task_panels for v in p.variants[1:]]
    assert sorted(others) == sorted(set(runs["variant"]) - {"baseline"})  # each exactly once
    colour = colours(task_panels)
    for p in task_panels:  # distinct within a panel
        assert len({colour[v] for v in p.variants}) == len(p.variants)


def test_estimate_against_actual_in_the_header(tmp_path):
    short = {"train.steps": 40, "train.eval_every": 20, "train.probe_every": 20}
    rows = [
        run_row(v, s, short | o)
        for v, o in (("baseline", {}), ("lr", {"train.lr": 0.01}))
        for s in (0, 1)
    ]
    runs = fake_runs(rows)
    study = write_study(tmp_path / "results" / "est", runs, name="est")
    analyse_study(study)
    per_run = {r: 10.0 for r in runs["run_id"]}
    (study / "estimate.json").write_text(
        f'{{"total_seconds": 42.0, "runs": 4, "cached": 0, "per_run": {json.dumps(per_run)}}}'
    )
    for i, run_id in enumerate(runs["run_id"]):  # runs end 100 s apart
        summary = tmp_path / "results" / "runs" / run_id / "summary.json"
        summary.parent.mkdir(parents=True)
        summary.write_text("{}")
        end = 1_700_000_000 + 100 * i
        os.utime(summary, (end, end))
    write_report(study, tmp_path / "est.html", chart_files=False)
    html = (tmp_path / "est.html").read_text()
    assert "0 min 42 s predicted for 4 runs (0 already cached)" in html
    total = runs["wall_s"].sum()
    assert f"{int(round(total)) // 60} min {int(round(total)) % 60:02d} s of run wall time" in html
    span = 300 + runs["wall_s"].iloc[0]  # first start (end 0 - its wall) .. last end (300)
    assert f"predicted / actual = {42.0 / span:.2f}" in html
