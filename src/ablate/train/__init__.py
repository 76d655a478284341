"""Training one run: the loop, its steps, evaluation, checkpoints and the run's files.

    loop.py           train one run from its spec, resume if killed (the heart of the lab)
    attempt.py        one attempt at a run directory: what it trains, where, how far it is
    step.py           one optimizer step and its metrics
    evaluate.py       loss, the held-out evaluations, the probe-batch diagnostics
    lr_schedule.py    linear warmup, then cosine or warmup-stable-decay (train.schedule)
    checkpoint.py     everything that decides the rest of a run, saved atomically
    finished.py       a finished run's files kept aside, so it never trains twice
    outputs.py        the run's tables as they grow; summary.py its summary.json
    sampling.py       text runs: a few samples from the final model (the samples table)
    saved_model.py    the final weights as model.safetensors; load_run reads a run back
    device.py         where a run trains; lock.py one trainer per run directory;
    interrupt.py      a clean stop on SIGTERM/SIGINT; progress_log.py progress lines
    sanity.py         the overfit-one-batch check
    coordcheck.py     muP's coordinate check across widths; coordcheck_command.py its command

Takes in: a RunSpec (spec/) and a run directory. Gives out: the run's tables, its
model.safetensors and summary.json in results/runs/<run id>/ (store/tables.py names them).

Imports from ablate: spec, data, model, probes, store, study (study.execution: the device
choices).
Torch: yes (with data/, model/ and probes/, the only packages that may load it).
"""
