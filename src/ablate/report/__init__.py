"""The study report: one self-contained, offline HTML page, and files to cite from.

    from ablate.report.write import write_report
    write_report("results/ablations", "reports/ablations.html")   # + reports/ablations/

Reads the study tables and the analysis tables (results/<study>/analysis/, written by
ablate.analysis.analyse.analyse_study; an analysis written by an older version is refused
with the command that rewrites it); renders templates/ with Jinja2 and draws with Altair,
Vega inlined once (page.py). Each task starts with its findings (findings.py; where its
losses stand among the references: reference_findings.py), then its leaderboard and small
multiples (panels.py, sections.py); write.py assembles the page. The
exports (exports.py) go to a folder named like the page without its suffix.
tensorboard_export.py writes the study tables' per-step scalars as TensorBoard runs
(``ablate tensorboard``; the optional tensorboard package, imported only when it runs).

Takes in: results/<study>/ and its analysis/. Gives out: reports/<study>.html and
reports/<study>/ (leaderboard as Markdown, LaTeX, CSV; every chart as SVG and PNG);
on request, TensorBoard event files, one folder per run.

Imports from ablate: analysis, store, probes (probes.status).
Torch: never.
"""
