"""HTML pieces of the report: header, leaderboard with badges, and the plain tables.

Every value is escaped; numbers that cannot be computed show as an em dash. Column headers
carry a title attribute (hover) that says what the column is.
"""

from __future__ import annotations

import math
from html import escape

import pandas as pd

TIER_COLORS = {"A": "#1a7f37", "B": "#9a6700", "C": "#bc4c00", "D": "#cf222e"}
STATUS_COLORS = {
    "ok": "#1a7f37",
    "diverged": "#cf222e",
    "stalled": "#8250df",
    "unstable": "#bc4c00",
    "collapsed": "#0969da",
}


def num(x, fmt: str = ".4f") -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "—"
    return format(x, fmt) if math.isfinite(x) else "—"


def pct(x) -> str:
    return num(100 * float(x), ".0f") + "%" if x == x else "—"


def badge(text: str, color: str, title: str = "") -> str:
    return (
        f'<span class="badge" style="background:{color}" title="{escape(title)}">'
        f"{escape(text)}</span>"
    )


def table(headers: list[tuple[str, str]], rows: list[list[str]], cls: str = "") -> str:
    """headers: (label, hover text); rows: cells that are already HTML."""
    head = "".join(f'<th title="{escape(tip)}">{escape(label)}</th>' for label, tip in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def header_html(meta: dict, runs: pd.DataFrame) -> str:
    unique = runs.drop_duplicates("run_id")
    counts = runs["status"].value_counts()
    status = " ".join(
        badge(f"{counts[s]} {s}", STATUS_COLORS.get(s, "#57606a")) for s in counts.index
    )
    flops = pd.to_numeric(unique["flops"], errors="coerce").sum()
    wall = pd.to_numeric(unique["wall_s"], errors="coerce").sum()
    items = [
        ("runs", f"{len(runs)} ({len(unique)} distinct: a run shared by variants counts once)"),
        ("tasks", escape(", ".join(sorted(runs["task"].unique())))),
        ("variants", str(runs["variant"].nunique())),
        ("seeds", escape(", ".join(str(s) for s in sorted(runs["seed"].unique())))),
        ("status", status),
        ("diverged", str(int(counts.get("diverged", 0)))),
        (
            "compute",
            f"{flops:.3g} FLOPs (6N + attention per token), {_duration(wall)} of run wall time",
        ),
        ("config hash", f"<code>{escape(str(meta.get('config_hash', '—')))}</code>"),
        ("created", escape(str(meta.get("created", "—")))),
    ]
    cells = "".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in items)
    return f'<dl class="meta">{cells}</dl>'


def _duration(seconds: float) -> str:
    minutes, s = divmod(int(round(seconds)), 60)
    h, m = divmod(minutes, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {s:02d} s"


LEADERBOARD_HEADERS = [
    ("#", "rank: failure rate, then mean val loss; 1 = tied with the best"),
    ("variant", "variant name (hover: the keys it changes)"),
    ("tier", "stability tier and score (0-100), see Methods"),
    ("runs", "run status counts over seeds"),
    ("val loss", "final val loss: mean ± std over non-diverged seeds"),
    ("95% CI", "Student-t CI of the mean over seeds"),
    ("Δ vs baseline", "paired by seed: mean(variant - baseline) [95% t CI]; * Holm p < 0.05"),
    ("val acc", "final val token accuracy, seed mean"),
    ("diverged", "fraction of seeds that diverged"),
    ("stalled", "fraction of seeds that never beat the unigram/initial loss"),
    ("unstable", "fraction of seeds with more than status.max_spikes loss spikes"),
    ("collapse", "fraction of seeds with collapsed attention (status or entropy threshold)"),
    ("spikes", "loss / grad-norm spikes per run (mean)"),
    ("grad max/med", "median over seeds of max / median global grad norm"),
    ("seed CV", "std / mean of final val loss over seeds"),
    ("attn logit", "final max attention logit (growth since the first probe)"),
]


def leaderboard_html(board: pd.DataFrame) -> str:
    rows = []
    for r in board.itertuples(index=False):
        tier = badge(f"{r.tier} {r.tier_name}", TIER_COLORS[r.tier], f"score {r.score:.1f}")
        status = " ".join(
            badge(f"{getattr(r, 'n_' + s)} {s}", c)
            for s, c in STATUS_COLORS.items()
            if getattr(r, "n_" + s) > 0
        )
        star = " *" if r.val_loss_diff_significant else ""
        diff = (
            f"{num(r.val_loss_diff_mean, '+.4f')}{star} "
            f"[{num(r.val_loss_diff_ci_lo, '+.4f')}, {num(r.val_loss_diff_ci_hi, '+.4f')}]"
            if r.val_loss_n_pairs
            else "—"
        )
        overrides = r.overrides if isinstance(r.overrides, str) else ""  # tables.RUN_COLUMNS
        rows.append(
            [
                str(r.rank),
                f'<span title="{escape(overrides or "the baseline")}">{escape(r.variant)}</span>',
                f"{tier} <small>{r.score:.1f}</small>",
                status,
                f"{num(r.val_loss_mean)} ± {num(r.val_loss_std)}",
                f"[{num(r.val_loss_ci_lo)}, {num(r.val_loss_ci_hi)}]",
                diff,
                num(r.val_acc_mean, ".3f"),
                pct(r.diverged_rate),
                pct(r.stalled_rate),
                pct(r.unstable_rate),
                pct(r.collapse_rate),
                f"{num(r.loss_spikes, '.1f')} / {num(r.grad_spikes, '.1f')}",
                num(r.grad_ratio, ".1f"),
                num(r.seed_cv, ".2%"),
                f"{num(r.attn_logit_max, '.1f')} ({num(r.attn_logit_growth, '+.1f')})",
            ]
        )
    return table(LEADERBOARD_HEADERS, rows, "leaderboard")


def frame_html(
    frame: pd.DataFrame,
    columns: dict[str, str],
    formats: dict[str, str],
    html_columns: frozenset[str] | set[str] = frozenset(),
) -> str:
    """A table of `columns` (name -> hover text): numbers formatted by `formats`, text escaped
    unless the column is in html_columns (cells that are already HTML, such as badges)."""
    rows = []
    for record in frame.to_dict("records"):
        row = []
        for col in columns:
            value = record[col]
            if col in formats:
                row.append(num(value, formats[col]))
            else:
                row.append(str(value) if col in html_columns else escape(str(value)))
        rows.append(row)
    return table(list(columns.items()), rows)
