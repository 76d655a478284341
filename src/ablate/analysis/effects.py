"""Which choices matter: main effects and two-way interactions in factorial grids.

For every study grid with >= 2 keys (runs whose `group` is the grid's name), per task, a
linear model of final_val_loss (diverged, oom and NaN runs left out) fitted by ordinary least
squares: one categorical term per grid key, every two-way interaction of them, and the seed
as a block (an additive categorical term, since seed s of every variant shares its
initialisation seed and data order), in sum-to-zero coding. Three-way and higher
interactions stay in the residual. From it:
  main effect of key A      the largest difference between two of A's level means, each
                            mean averaged over the other keys' levels and the seeds
                            (for a 2-level key: mean at one level minus the other)
  interaction A:B           the largest |(m(a1,b1) - m(a0,b1)) - (m(a1,b0) - m(a0,b0))|
                            over pairs of levels of A and of B, m the model's cell mean
                            averaged over the other keys and seeds (for 2 x 2: the one
                            difference of differences)
`effect` is that difference in nats, >= 0 (`detail` says which levels: the change that
raises the loss, and for an interaction where it raises it more);
`se` its standard error from the model, with the residual degrees of freedom `df`;
ci_lo/ci_hi its 95 % t-interval, widened by Bonferroni over the `n_contrasts` contrasts the
largest was chosen from (so it covers the chosen one, not only a pre-declared one);
`p_value` the term's F-test (type III with sum coding, equal to type II in a balanced
grid). A grid tests all its terms at once, so they are one family: `p_adj` is Holm's
adjustment of p_value over the grid's terms (per task), `significant` is p_adj < 0.05, and
ci_lo_adj/ci_hi_adj the interval above at the level of the term's step of Holm's step-down
(inference.holm_levels): effect +- t(1 - a_j / (2 n_contrasts), df) * se. For a 2-level
key, and any interaction of two, there is one contrast and the F-test is its t-test, so
"significant" and "ci_lo_adj > 0" agree exactly; with more levels the F-test tests every
contrast at once and the two can differ near the threshold. Read the unadjusted ci and p
only for a term chosen before the study. Rows are ranked per (task, grid) by effect,
largest first. With no residual degrees of freedom (one seed and a saturated model)
intervals and p are NaN.
For one-factor ablations the paired differences of the seeds table are the effects.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy import stats

from ablate.analysis.inference import ALPHA, holm, holm_levels
from ablate.analysis.load import LOSS, SEED_KEYS
from ablate.analysis.seeds import usable
from ablate.store.tables import SPEC_COLUMNS

COLUMNS = [
    *("task", "grid", "term", "order", "effect", "detail", "se", "n_contrasts"),
    *("ci_lo", "ci_hi", "p_value", "p_adj", "significant", "ci_lo_adj", "ci_hi_adj"),
    *("df", "n_runs"),
]


def effects(runs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (task, grid), group in runs.groupby(["task", "group"], sort=True):
        keys = grid_keys(group)
        if len(keys) < 2:
            continue
        rows += grid_effects(usable(group, LOSS), keys, task=task, grid=grid)
    table = adjust_across_terms(pd.DataFrame(rows, columns=COLUMNS))
    table = table.sort_values(["task", "grid", "effect"], ascending=[True, True, False])
    return table.reset_index(drop=True)


def adjust_across_terms(table: pd.DataFrame) -> pd.DataFrame:
    """p_adj, significant, ci_lo_adj and ci_hi_adj: Holm over each (task, grid)'s terms."""
    table = table.copy()
    family = table.groupby(["task", "grid"], sort=False)["p_value"]
    table["p_adj"] = family.transform(holm).astype(float)
    table["significant"] = (table["p_adj"] < ALPHA).to_numpy(bool)
    a = family.transform(holm_levels).to_numpy(float)
    df = table["df"].to_numpy(float)
    with np.errstate(invalid="ignore"):
        q = np.where(
            df > 0, stats.t.ppf(1 - a / (2 * table["n_contrasts"]), np.fmax(df, 1)), np.nan
        )
    half = q * table["se"].to_numpy(float)
    table["ci_lo_adj"] = table["effect"] - half
    table["ci_hi_adj"] = table["effect"] + half
    return table


def grid_keys(group: pd.DataFrame) -> list[str]:
    """The config keys a grid varies: the spec columns with more than one value in it (the
    grid's variants share the base in every other key)."""
    keys = [k for k in SPEC_COLUMNS if k not in SEED_KEYS and k in group.columns]
    return sorted(k for k in keys if group[k].astype(str).nunique() > 1)


def grid_effects(runs: pd.DataFrame, keys: list[str], **where) -> list[dict]:
    # imported here: the report reads this module (its columns, its method text) and
    # should not pay for statsmodels (~2 s) to do so
    import statsmodels.api as sm
    from patsy import dmatrices

    names = [f"f{i}" for i in range(len(keys))]  # patsy cannot take dotted column names
    data = pd.DataFrame(
        {n: runs[k].astype(str).to_numpy() for n, k in zip(names, keys, strict=True)}
    )
    data["seed"] = runs["seed"].astype(str).to_numpy()
    data["loss"] = runs[LOSS].astype(float).to_numpy()
    levels = {n: sorted(data[n].unique()) for n in names}
    terms = [f"C({n}, Sum)" for n in names]
    rhs = " + ".join(terms + [":".join(p) for p in itertools.combinations(terms, 2)])
    blocks = " + C(seed, Sum)" if data["seed"].nunique() > 1 else ""
    y, X = dmatrices(f"loss ~ {rhs}{blocks}", data, return_type="dataframe")
    fit = sm.OLS(y, X).fit()
    df = float(fit.df_resid)
    cells = _cell_rows(X.design_info, data, names, levels)
    base = where | {"df": df, "n_runs": len(data)}
    rows = []
    for i, n in enumerate(names):
        contrasts = [
            ((a,), (b,), cells[(n,)][(b,)] - cells[(n,)][(a,)])
            for a, b in itertools.permutations(levels[n], 2)
        ]
        row = _largest(fit, contrasts, df)
        row["detail"] = f"{keys[i]}: {row.pop('lo_level')[0]} -> {row.pop('hi_level')[0]}"
        p = _term_p(fit, X.design_info, terms[i], df)
        rows.append(base | row | {"term": keys[i], "order": 1, "p_value": p})
    for (i, a), (j, b) in itertools.combinations(enumerate(names), 2):
        m = cells[(a, b)]
        contrasts = []
        # A's levels in the order of their mean loss, so each contrast reads "a0 -> a1
        # raises the loss, and raises it more at b1 than at b0"
        a_mean = {lv: float(row @ fit.params.to_numpy()) for (lv,), row in cells[(a,)].items()}
        for pair in itertools.combinations(levels[a], 2):
            a0, a1 = sorted(pair, key=a_mean.get)
            for b0, b1 in itertools.combinations(levels[b], 2):
                vec = (m[(a1, b1)] - m[(a0, b1)]) - (m[(a1, b0)] - m[(a0, b0)])
                contrasts += [((a0, b0), (a1, b1), vec), ((a0, b1), (a1, b0), -vec)]
        row = _largest(fit, contrasts, df)
        lo, hi = row.pop("lo_level"), row.pop("hi_level")
        row["detail"] = (
            f"{keys[i]} {lo[0]} -> {hi[0]} costs more at {keys[j]}={hi[1]} "
            f"than at {keys[j]}={lo[1]}"
        )
        p = _term_p(fit, X.design_info, f"{terms[i]}:{terms[j]}", df)
        rows.append(base | row | {"term": f"{keys[i]}:{keys[j]}", "order": 2, "p_value": p})
    return rows


def _cell_rows(info, data: pd.DataFrame, names: list[str], levels: dict) -> dict:
    """{(factor,) or (a, b): {levels: design row}}: the model's mean at those levels,
    averaged over every level of the other factors and every seed (a balanced average)."""
    from patsy import dmatrix

    grid = pd.DataFrame(
        list(itertools.product(*[levels[n] for n in names], sorted(data["seed"].unique()))),
        columns=[*names, "seed"],
    )
    X = pd.DataFrame(np.asarray(dmatrix(info, grid, return_type="matrix")))
    out = {}
    for chosen in [(n,) for n in names] + list(itertools.combinations(names, 2)):
        means = X.groupby([grid[n] for n in chosen], sort=False).mean()
        out[chosen] = {
            (lv if isinstance(lv, tuple) else (lv,)): row.to_numpy() for lv, row in means.iterrows()
        }
    return out


def _largest(fit, contrasts: list, df: float) -> dict:
    """The contrast with the largest estimate, its standard error and Bonferroni-widened
    t-interval."""
    values = [float(vec @ fit.params.to_numpy()) for _, _, vec in contrasts]
    k = int(np.argmax(values))
    lo_level, hi_level, vec = contrasts[k]
    effect = values[k]
    # a contrast and its negative are one comparison: len(contrasts) / 2 chances
    n_compared = max(1, len(contrasts) // 2)
    if df > 0:
        se = float(np.sqrt(vec @ fit.cov_params().to_numpy() @ vec))
        half = stats.t.ppf(1 - ALPHA / (2 * n_compared), df) * se
        lo, hi = effect - half, effect + half
    else:
        se = lo = hi = np.nan
    return {
        "effect": effect,
        "se": se,
        "n_contrasts": n_compared,
        "ci_lo": lo,
        "ci_hi": hi,
        "lo_level": lo_level,
        "hi_level": hi_level,
    }


def _term_p(fit, info, term: str, df: float) -> float:
    """F-test that every coefficient of `term` is 0 (with sum coding: type III, which equals
    type II in a balanced grid); NaN without residual degrees of freedom."""
    if df <= 0:
        return float("nan")
    cols = info.term_name_slices[term]
    R = np.eye(len(fit.params))[cols]
    return float(fit.f_test(R).pvalue)
