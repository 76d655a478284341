"""The HTML report: self-contained, complete, small, and drawn without errors in a browser."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from fake_study import default_runs, fake_runs, run_row, write_study

from ablate.analysis import analyse_study
from ablate.analysis.load import StudyError
from ablate.report import write_report
from ablate.report.data import MAX_POINTS, seed_band

# charts of the fake study: shakespeare_char has all 8, induction has no LR sweep or scaling
N_CHARTS = 8 + 6
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
    study = write_study(root / "fake", default_runs())
    analyse_study(study)
    out = root / "reports" / "fake.html"
    write_report(study, out)
    return out


def test_report_is_one_self_contained_file(report):
    html = report.read_text()
    write_report(report.parent.parent / "fake", report.parent / "again.html")
    assert (report.parent / "again.html").read_text() == html  # deterministic
    (report.parent / "again.html").unlink()
    assert [p.name for p in report.parent.iterdir()] == ["fake.html"]  # no temp file left
    assert not re.search(r"<script[^>]*\bsrc=|<link\b|@import|<iframe", html)
    assert html.count("vegaEmbed(") >= 1 and html.count("<script>") == 3  # bundle inlined once
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
        "100 * (diverged_rate + stalled_rate + collapse_rate)",
        "Tier: A stable",
    ):
        assert text in html, text


def test_report_lists_failures_and_ranks(report):
    html = report.read_text()
    failures = html[html.index('id="failures"') : html.index('id="methods"')]
    assert failures.count("diverged</span>") == 2 and failures.count("stalled</span>") == 3
    assert "results/runs/" in failures and "loss is nan at step 30" in failures
    task = html[html.index('id="task-shakespeare_char"') : html.index('id="failures"')]
    board = task[: task.index("</table>")]
    assert board.index(">baseline<") < board.index(">lr=0.03<")  # D tier ranks last
    assert "D broken" in board and "A stable" in board
    induction = html[html.index('id="task-induction"') : html.index('id="task-shakespeare_char"')]
    assert "No learning-rate sweep in this task" in induction
    assert "No scaling family in this task" in induction


def test_sections_without_data_say_so(tmp_path):
    short = {"train.steps": 40, "train.eval_every": 20, "train.probe_every": 20}
    rows = [
        run_row(v, s, short | o)
        for v, o in (("baseline", {}), ("n_head=8", {"model.n_head": 8}))
        for s in (0, 1)
    ]
    study = write_study(tmp_path / "tiny", fake_runs(rows), name="tiny")
    analyse_study(study)
    write_report(study, tmp_path / "tiny.html")
    html = (tmp_path / "tiny.html").read_text()
    assert "No learning-rate sweep in this task" in html
    assert "No scaling family in this task" in html
    assert "Every run finished with status ok" in html


def test_single_seed_study_with_an_all_diverged_variant(tmp_path):
    short = {"train.steps": 40, "train.eval_every": 20, "train.probe_every": 20}
    boom = {"status": "diverged", "steps_done": 20, "status_step": 20, "final_val_loss": np.nan}
    rows = [run_row("baseline", 0, short), run_row("lr=1", 0, short | {"train.lr": 1.0}, **boom)]
    study = write_study(tmp_path / "one", fake_runs(rows), name="one")
    tables = analyse_study(study)
    board = tables["leaderboard"].set_index("variant")
    assert board.loc["lr=1", "rank"] == 2 and board.loc["lr=1", "tier"] == "D"
    assert np.isnan(board.loc["baseline", "val_loss_std"])  # one seed: no spread, no CI
    write_report(study, tmp_path / "one.html")
    assert "1 diverged" in (tmp_path / "one.html").read_text()


def test_report_needs_the_analysis(tmp_path):
    study = write_study(tmp_path / "s", fake_runs([run_row("baseline", 0)]))
    with pytest.raises(StudyError, match="ablate analyse"):
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
    write_report(study, tmp_path / "big.html")
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
