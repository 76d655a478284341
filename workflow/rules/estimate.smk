# The study's predicted wall time, made before its runs train (ablate.estimate), for the
# report's estimate-against-actual. Never computed while parsing: a job does it, and
# calibrates this machine if no calibration is cached (results/.calibration/).


localrules: estimate

# All the cores there are, so it runs alone. `snakemake --unlock` and other invocations
# without --cores cannot ask workflow.cores (it raises); they run no job anyway.
try:
    ESTIMATE_THREADS = workflow.cores
except WorkflowError:
    ESTIMATE_THREADS = 1


rule estimate:
    output:
        f"{STUDY_DIR}/estimate.json",
    params:
        runs=sorted(RUN_BY_ID),  # a changed set of runs is a new prediction
    # First, and alone: it predicts this invocation's runs before any of them trains, and a
    # calibration must not share the cores with training jobs (it would measure them).
    priority: 100
    threads: ESTIMATE_THREADS
    run:
        from ablate.estimate import workflow_estimate

        workflow_estimate(RUNS, STUDY, workflow.cores, output[0])
