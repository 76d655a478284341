"""The leaderboard as the page shows it: key columns, the rest on demand, sortable.

Numbers that cannot be computed show as an em dash. Each cell also carries a sort key
(data-sort), so a click on a header sorts by the number, not by its formatted text.
"""

from __future__ import annotations

import math

import pandas as pd

from ablate.analysis.ranking import MARK, display_order

TIER_COLORS = {"A": "#1a7f37", "B": "#9a6700", "C": "#bc4c00", "D": "#cf222e"}
STATUS_COLORS = {  # a badge colour for each status of probes/status.py STATUSES
    "ok": "#1a7f37",
    "diverged": "#cf222e",
    "stalled": "#8250df",
    "unstable": "#bc4c00",
    "collapsed": "#0969da",
    "oom": "#6e7781",
}
OTHER_COLOR = "#57606a"


def num(x, fmt: str = ".4f") -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "—"
    return format(x, fmt) if math.isfinite(x) else "—"


def pct(x) -> str:
    return num(100 * float(x), ".0f") + "%" if x == x else "—"


def sort_key(x) -> str:
    """A number as data-sort text; missing values as "" (sorted last)."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return ""
    return repr(x) if math.isfinite(x) else ""


HEADERS = [
    ("#", f"position in the task's order (see Methods); {MARK}: cannot be ruled out as the best"),
    ("variant", "variant name (hover: the keys it changes)"),
    ("val loss [95% CI]", "final val loss: seed mean and its interval (see Methods)"),
    (
        "Δ vs baseline",
        "paired by seed: mean(variant - baseline) [interval adjusted like p: it excludes 0 "
        "exactly when * marks it significant after the multiple-comparison adjustment]",
    ),
    ("p adj", "adjusted p-value of the paired difference"),
    ("val acc", "final val token accuracy, seed mean"),
    (
        "α (Δα)",
        "scaling slope over the variant's size ladder (-d log loss / d log non-embedding "
        "parameters, seed mean [95% interval]) and, in brackets, its paired difference from "
        "the baseline's (* significant after Holm); — without a ladder (Scaling section)",
    ),
    ("runs", "run status counts over seeds"),
    ("tier", "stability tier (hover: score 0-100) and what cost it the most, see Methods"),
    ("", "everything else behind the rank"),
]


def loss_text(r) -> str:
    """'2.5129 [2.4957, 2.5301]': a leaderboard row's val loss, seed mean [interval]."""
    return f"{num(r.val_loss_mean)} [{num(r.val_loss_ci_lo)}, {num(r.val_loss_ci_hi)}]"


def diff_text(r) -> str:
    """'-0.3025 [-0.3974, -0.2077]': the paired difference from the baseline with the
    interval adjusted like its p (it excludes 0 exactly when the row is significant)."""
    lo, hi = num(r.val_loss_diff_ci_lo_adj, "+.4f"), num(r.val_loss_diff_ci_hi_adj, "+.4f")
    return f"{num(r.val_loss_diff_mean, '+.4f')} [{lo}, {hi}]"


def alpha_text(r) -> str:
    """'0.112 [0.101, 0.123] (+0.021)': the ladder's slope and its difference from the
    baseline's; '—' for a variant without a ladder."""
    alpha, diff = getattr(r, "alpha", math.nan), getattr(r, "alpha_diff", math.nan)
    if not math.isfinite(float(alpha)):  # no ladder (a board without the columns: none)
        return "—"
    text = f"{num(alpha, '.3f')} [{num(r.alpha_ci_lo, '.3f')}, {num(r.alpha_ci_hi, '.3f')}]"
    if math.isfinite(float(diff)):
        text += f" ({num(diff, '+.3f')})"
    return text


def leaderboard_rows(board: pd.DataFrame) -> list[dict]:
    rows = []
    for r in display_order(board).itertuples(index=False):
        statuses = [
            (f"{getattr(r, 'n_' + s)} {s}", c)
            for s, c in STATUS_COLORS.items()
            if getattr(r, "n_" + s) > 0
        ]
        overrides = r.overrides if isinstance(r.overrides, str) else ""  # tables.RUN_COLUMNS
        paired = bool(r.val_loss_n_pairs)
        rows.append(
            {
                "position": int(r.position),
                "rank_label": r.rank_label,
                "tied": bool(r.mark),
                "tied_by_spread": bool(r.tied_by_spread),
                "variant": r.variant,
                "overrides": overrides or "the baseline",
                "loss": loss_text(r),
                "loss_sort": sort_key(r.val_loss_mean),
                "diff": diff_text(r) if paired else "—",
                "diff_sort": sort_key(r.val_loss_diff_mean) if paired else "",
                "significant": paired and bool(r.val_loss_diff_significant),
                "p_adj": num(r.val_loss_diff_p_adj, ".2g") if paired else "—",
                "p_sort": sort_key(r.val_loss_diff_p_adj) if paired else "",
                "acc": num(r.val_acc_mean, ".3f"),
                "acc_sort": sort_key(r.val_acc_mean),
                "alpha": alpha_text(r),
                "alpha_sort": sort_key(getattr(r, "alpha", math.nan)),
                "alpha_significant": bool(getattr(r, "alpha_diff_significant", False)),
                "statuses": statuses,
                "failure_sort": sort_key(r.failure_rate),
                "tier": f"{r.tier} {r.tier_name}",
                "tier_reason": r.tier_reason,
                "tier_color": TIER_COLORS.get(r.tier, OTHER_COLOR),
                "score": f"{r.score:.1f}",
                "details": details(r, overrides),
            }
        )
    return rows


def details(r, overrides: str) -> list[tuple[str, str]]:
    return [
        ("changes", overrides or "nothing (the baseline)"),
        ("group", str(r.group)),
        ("seeds used / runs", f"{r.val_loss_n_used} / {r.n_runs}"),
        ("val loss std", num(r.val_loss_std)),
        ("val loss min..max", f"{num(r.val_loss_min)} .. {num(r.val_loss_max)}"),
        ("effect size", num(r.val_loss_diff_effect, ".2f")),
        ("p (unadjusted)", num(r.val_loss_diff_p, ".2g")),
        (
            "Δ, unadjusted interval",
            f"[{num(r.val_loss_diff_ci_lo, '+.4f')}, {num(r.val_loss_diff_ci_hi, '+.4f')}]",
        ),
        (
            "Δ from the best (paired)",
            f"{num(r.best_diff_mean, '+.4f')}, sd {num(r.best_diff_sd)} over "
            f"{num(r.best_diff_n, '.0f')} seeds (candidates' median sd {num(r.typical_diff_sd)})",
        ),
        (
            "val acc [95% CI]",
            f"{num(r.val_acc_mean, '.3f')} [{num(r.val_acc_ci_lo, '.3f')}, "
            f"{num(r.val_acc_ci_hi, '.3f')}]",
        ),
        ("stability score", f"{r.score:.1f} (tier {r.tier} {r.tier_name})"),
        (
            "diverged / stalled / oom",
            f"{pct(r.diverged_rate)} / {pct(r.stalled_rate)} / {pct(r.oom_rate)}",
        ),
        ("unstable / collapse", f"{pct(r.unstable_rate)} / {pct(r.collapse_rate)}"),
        ("loss / grad spikes", f"{num(r.loss_spikes, '.1f')} / {num(r.grad_spikes, '.1f')}"),
        ("grad max/median", num(r.grad_ratio, ".1f")),
        ("seed CV", num(r.seed_cv, ".2%")),
        (
            "attn logit (growth)",
            f"{num(r.attn_logit_max, '.1f')} ({num(r.attn_logit_growth, '+.1f')})",
        ),
    ]


def table_block(
    frame: pd.DataFrame,
    columns: dict[str, str],
    formats: dict[str, str],
    badges: frozenset[str] = frozenset(),
    wrap: frozenset[str] = frozenset(),
) -> dict:
    """A plain table block for the templates: `columns` name -> hover text, numbers formatted
    by `formats`, columns in `badges` drawn as status badges, columns in `wrap` (long text)
    wrapped so the table fits the page."""
    rows = []
    for record in frame.to_dict("records"):
        row = []
        for col in columns:
            value = record[col]
            text = num(value, formats[col]) if col in formats else str(value)
            sort = sort_key(value) if col in formats else str(value)
            color = STATUS_COLORS.get(str(value), OTHER_COLOR) if col in badges else ""
            row.append({"text": text, "sort": sort, "color": color, "wrap": col in wrap})
        rows.append(row)
    heads = [{"label": c, "tip": tip} for c, tip in columns.items()]
    return {"kind": "table", "cls": "sortable", "columns": heads, "rows": rows}
