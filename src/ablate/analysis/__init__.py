"""Study analysis: Parquet tables in, Parquet tables out (results/<study>/analysis/).

    from ablate.analysis.analyse import analyse_study
    tables = analyse_study("results/ablations")   # {name: DataFrame}, also written to disk

Reads only the study tables (runs, probes, evals), so it reruns on old results without
training. Each table has its own module, whose docstring states the rule it computes:
  seeds            seeds.py           mean, interval in range; paired t-test vs baseline, Holm
  stability        stability.py       components, score and tier
  lr_sensitivity   lr_sensitivity.py  Wortsman et al. 2023 LR sensitivity per LR family
  lr_curves                           loss against lr per family
  scaling_points   scaling.py         one point per variant of each one-key scaling family
  scaling_fits                        L = E + A x^-alpha fits, CIs, extrapolation, bottlenecks
  effects          effects.py         main effects and 2-way interactions of factorial grids
  length           length.py          loss and accuracy at 1x, 2x, 4x the training length
  leaderboard      ranking.py         per-task order: failure rate, then mean final val loss;
                                      ties with the best (multiple comparisons with the best)
  failures                            every run whose status is a failure
  references       reference_losses.py  n-gram (Kneser-Ney), chance and best losses per
                                      task, gathered from results/references/ (computed
                                      by the workflow: ablate.data.references)
Helpers: load.py (reading the study tables; the metric columns), inference.py (the error
rate, intervals and tests), families.py, scaling_fit.py; analyse.py runs them all.

Takes in: results/<study>/*.parquet (store/) and the study's results/references/*.parquet.
Gives out: results/<study>/analysis/*.parquet.

Imports from ablate: store, spec (StatusRules), probes (probes.status: what each status
means).
Torch: never.
"""
