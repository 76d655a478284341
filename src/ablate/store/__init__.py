"""The results store: what a run directory and a study directory hold, and how it is written.

    tables.py      every table, column and unit the lab writes (the one place that names them)
    spec_columns.py  the run spec as flat, typed columns of runs.parquet
    atomic.py      writing files atomically, with the user's permissions
    workflow_files.py  the spec files and manifest the workflow writes while it parses
    integrity.py   is a run directory intact? (checked before it is collected)
    collect.py     the run directories of a study -> study tables (each run judged here)
    user_cache.py  the user's cache directory (~/.cache/ablate): kept per machine, not per study

Takes in: run directories results/runs/<run id>/ (written by train/). Gives out:
results/<study>/*.parquet, the study tables that analysis/ and report/ read.

Imports from ablate: spec, probes (probes.status: each run's status is judged at
collect), model (model.params: FLOPs by formula).
Torch: never (collect judges every run of a study without loading a model).
"""
