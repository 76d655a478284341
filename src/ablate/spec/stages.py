"""The stages a run of a study belongs to (runs.parquet's ``stage``; ablate.study.tuning
says why a tuned study has two): named once here, below every package that reads them."""

TUNE = "tune"  # a tuning run: a tuned variant at one grid point and one tuning seed
COMPARE = "compare"  # a run of the study's comparison: every statistic uses these alone
