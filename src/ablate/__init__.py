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

One name lives here for notebooks: ``load_run`` (train/saved_model.py), a run's final model
and its spec, ``model, spec = ablate.load_run("results/runs/<run id>")``. It is imported on
first use (PEP 562): ``import ablate`` stays torch-free and fast, since Snakemake imports
ablate.study, and with it this package, while it parses.
"""

__all__ = ["load_run"]


def __getattr__(name: str):
    if name == "load_run":
        from ablate.train.saved_model import load_run

        return load_run
    raise AttributeError(f"module 'ablate' has no attribute {name!r}")
