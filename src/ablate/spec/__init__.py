"""What one run is: plain data, checked, hashed. The bottom of the house.

    config.py        every config key: the Model, Train, Data and Probe configs, StatusRules
    model_traits.py  what a model variant says about itself, and the checks it brings
    task_traits.py   what a task says about itself: its sequence layout and checks
    registry.py      every named variant, one table per axis (name -> traits)
    task_lengths.py  a task's training and eval sequence lengths, asked of its traits
    validation.py    each key's type and range as JSON schema, from the dataclass fields
    constraints.py   rules that join keys (d_model divisible by n_head, ...)
    run_spec.py      RunSpec: a run fully resolved; spec.yaml and the run id (spec_hash)

Takes in: plain dicts (a study's sections, a spec.yaml). Gives out: typed, checked
RunSpecs and their hashes; the registries every other package resolves variants through.

Imports from ablate: nothing (every other package imports this one).
Torch: never (the DAG layer resolves and hashes specs while Snakemake parses).
"""
