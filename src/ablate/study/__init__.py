"""A study config -> the runs it asks for, checked before any job starts.

    expand.py            study config -> variants x tasks x seeds -> Run (spec + run id)
    schema.py            the study's JSON schema (config.schema.yaml, shipped beside it)
                         and its name rules
    execution.py         how runs execute (device, GPU sharing, checkpoints): never which
    config.schema.yaml   the study's structure; the per-key part is generated from spec/

Takes in: config.yaml (a dict). Gives out: the list of runs and the study manifest that
the workflow (workflow/rules/common.smk) turns into jobs.

Imports from ablate: spec, data (data.sources: the corpora's files and a local file's
checks; data.references: the key of a data config's references file).
Torch: never (Snakemake imports this while it parses; a no-op rerun stays ~1 s).
"""
