"""Mini Transformer Lab: config-driven, cached, deterministic transformer ablation studies.

The packages are the stages, in the order data flows through them:

    spec/      what one run is (config keys, variant registry, RunSpec and its hash)
    study/     a study config -> its runs
    data/ model/ probes/ train/    one run trained: its tables in results/runs/<run id>/
    store/     the tables' names, atomic writes, run-directory checks, collect
    analysis/  study tables -> analysis tables
    report/    analysis -> one HTML page and its exports
    estimate/  the cost model beside them: a study's wall time before it trains

cli.py is the ``ablate`` command (``python -m ablate``). Each package's docstring says what
it takes in, gives out, and may import; tests/test_layout.py checks it.
"""
