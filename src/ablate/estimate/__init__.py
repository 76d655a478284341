"""The cost model: how long a study takes here, and what a run asks a cluster for.

    cost.py                the work a run's spec asks for, and what each unit costs
    calibration.py         measures this machine's costs (cached per machine, ~/.cache/ablate)
    calibration_fit.py     least-squares fit of the costs to the calibration's timings
    calibration_worker.py  the calibration process: times real runs and the study steps
    step_times.py          seconds per step of each of a study's step shapes (cached per machine)
    step_worker.py         the process that times those steps, one shape per core at once
    makespan.py            how long N jobs take sharing the cores (an event simulation)
    prediction.py          which runs are still to train (asks Snakemake) and the total
    command.py             ``ablate estimate CONFIG``
    job_resources.py       a run's Slurm time and memory request, from the same model

Takes in: a study's runs (study/) and the machine. Gives out: seconds per run, the
study's wall time (estimate.json, the dry-run line) and the cluster requests.

Imports from ablate: spec, study, store, model (model.params), data (data.sources;
data.references: the calibration computes its study's references);
calibration_worker also train, cli (a process of its own that trains real runs), launch
(launch.protocol: what the warm server preloads, imported before the timed commands);
step_worker also train (it times the training loop's own steps).
Torch: only in calibration_worker, step_worker (the workflow prices runs while it
parses).
"""
