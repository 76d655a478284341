"""Files to cite from: the leaderboard as Markdown, LaTeX and CSV, every chart as SVG and PNG.

    reports/<study>/leaderboard.md    one table per task (GitHub Markdown)
    reports/<study>/leaderboard.tex   one booktabs table per task, to \\input into a paper
    reports/<study>/leaderboard.csv   analysis/leaderboard.parquet, every column
    reports/<study>/<task>-<chart>.svg / .png   the page's charts, drawn by vl-convert

The Markdown and LaTeX tables show what the page's leaderboard shows in its key columns; a
star marks a difference from the baseline that is significant after the multiple-comparison
adjustment, '=' a variant that cannot be told apart from the best. The folder is written
beside and then swapped in, so it never mixes files of two reports.
"""

from __future__ import annotations

import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from ablate.analysis.ranking import MARK, display_order
from ablate.report.leaderboard import alpha_text, diff_text, loss_text, num

PNG_SCALE = 1.0  # the SVG is the file to scale; the PNG is for slides and quick looks
TEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def tex_escape(text: str) -> str:
    return "".join(TEX_SPECIALS.get(ch, ch) for ch in str(text))


def md_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "\\|*_`[]<>" else ch for ch in str(text))


def key_columns(board: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard's key columns as text: one row per (task, variant), ranked."""
    rows = []
    for r in display_order(board).itertuples(index=False):
        paired = bool(r.val_loss_n_pairs)
        failed = int(r.n_runs - r.n_ok)
        rows.append(
            {
                "task": r.task,
                "rank": r.rank_label,
                "variant": r.variant,
                "val loss": loss_text(r),
                "diff": diff_text(r) if paired else "",
                "significant": paired and bool(r.val_loss_diff_significant),
                "p adj": num(r.val_loss_diff_p_adj, ".2g") if paired else "",
                "val acc": num(r.val_acc_mean, ".3f"),
                "alpha": alpha_text(r).replace("—", ""),
                "alpha significant": bool(getattr(r, "alpha_diff_significant", False)),
                "failed": f"{failed}/{r.n_runs}",
                "tier": f"{r.tier} {r.tier_name}" + (f": {r.tier_reason}" if r.tier_reason else ""),
            }
        )
    return pd.DataFrame(rows)


NOTE = (
    "Rows in leaderboard order (failure rate, then mean val loss). Val loss: seed mean [95% "
    "interval]. Δ: paired by seed against the baseline [interval adjusted like p]; * "
    "significant after the multiple-comparison adjustment; p adj: adjusted p-value. "
    f"'{MARK}' after a position: cannot be ruled out as the best. Failed: runs whose status "
    "is a failure. α (Δα): the variant's scaling slope over its size ladder [95% interval] "
    "(its paired difference from the baseline's; * significant after Holm), blank without a "
    "ladder. Tier: stability tier and the term that cost it the most points."
)


def leaderboard_md(board: pd.DataFrame, study: str) -> str:
    out = [f"# {md_escape(study)}: leaderboard", "", md_escape(NOTE), ""]
    for task, t in key_columns(board).groupby("task", sort=True):
        out += [f"## {md_escape(task)}", ""]
        out.append(
            "| # | variant | val loss | Δ vs baseline | p adj | val acc | α (Δα) | failed | tier |"
        )
        out.append("|--:|---|---|---|--:|--:|---|--:|---|")
        for r in t.to_dict("records"):
            diff = md_escape(r["diff"]) + (" \\*" if r["significant"] else "")
            alpha = md_escape(r["alpha"]) + (" \\*" if r["alpha significant"] else "")
            cells = [
                md_escape(c)
                for c in (r["rank"], r["variant"], r["val loss"], "", r["p adj"], r["val acc"])
            ]
            cells[3] = diff
            cells += [alpha, md_escape(r["failed"]), md_escape(r["tier"])]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def leaderboard_tex(board: pd.DataFrame, study: str) -> str:
    out = [
        f"% {tex_escape(study)}: leaderboard, written by `ablate report`.",
        "% Needs \\usepackage{booktabs}. " + tex_escape(NOTE),
    ]
    for task, t in key_columns(board).groupby("task", sort=True):
        out += [
            "\\begin{table}[ht]",
            "\\centering\\small",
            f"\\caption{{{tex_escape(study)}, task {tex_escape(task)}: final validation loss. "
            "$\\Delta$: paired difference against the baseline, $^{*}$ significant after "
            "adjustment; $\\approx$: cannot be ruled out as the best.}",
            "\\begin{tabular}{rllllrlrl}",
            "\\toprule",
            "\\# & variant & val loss [95\\% CI] & $\\Delta$ vs baseline & "
            "$p_{\\mathrm{adj}}$ & val acc & $\\alpha$ ($\\Delta\\alpha$) & failed & tier \\\\",
            "\\midrule",
        ]
        for r in t.to_dict("records"):
            rank = tex_escape(r["rank"]).replace(MARK, "$\\approx$")
            diff = tex_escape(r["diff"]) + ("$^{*}$" if r["significant"] else "")
            cells = [
                rank,
                tex_escape(r["variant"]),
                tex_escape(r["val loss"]),
                diff,
                tex_escape(r["p adj"]),
                tex_escape(r["val acc"]),
                tex_escape(r["alpha"]) + ("$^{*}$" if r["alpha significant"] else ""),
                tex_escape(r["failed"]),
                tex_escape(r["tier"]),
            ]
            out.append(" & ".join(cells) + " \\\\")
        out += ["\\bottomrule", "\\end{tabular}", "\\end{table}", ""]
    return "\n".join(out)


def write_exports(
    out_dir: Path, board: pd.DataFrame, study: str, charts: dict[str, dict]
) -> dict[str, float]:
    """Write everything into out_dir (replaced as a whole). charts: file stem -> Vega-Lite
    spec. Returns seconds spent on tables and on charts."""
    import vl_convert

    staging = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    t0 = time.perf_counter()
    (staging / "leaderboard.md").write_text(leaderboard_md(board, study), encoding="utf-8")
    (staging / "leaderboard.tex").write_text(leaderboard_tex(board, study), encoding="utf-8")
    board.to_csv(staging / "leaderboard.csv", index=False)
    t1 = time.perf_counter()
    # vl_convert releases the GIL, so the charts render on every core this process may use;
    # the PNG is rasterised from the SVG (the same bytes as vegalite_to_png, which would lay
    # the chart out a second time: a third of the time)
    workers = max(1, min(len(charts), len(os.sched_getaffinity(0))))
    with ThreadPoolExecutor(workers) as pool:
        svgs = dict(zip(charts, pool.map(vl_convert.vegalite_to_svg, charts.values()), strict=True))
    for stem, svg in svgs.items():
        (staging / f"{stem}.svg").write_text(svg, encoding="utf-8")
        (staging / f"{stem}.png").write_bytes(vl_convert.svg_to_png(svg, scale=PNG_SCALE))
    t2 = time.perf_counter()
    shutil.rmtree(out_dir, ignore_errors=True)
    staging.rename(out_dir)
    return {"tables_s": t1 - t0, "charts_s": t2 - t1}
