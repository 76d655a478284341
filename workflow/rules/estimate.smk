# The study's predicted wall time, made before its runs train (ablate.estimate.prediction), for the
# report's estimate-against-actual. Never computed while parsing: a job does it, and
# calibrates this machine if no calibration is cached (~/.cache/ablate/calibration/).


localrules: estimate


rule estimate:
    output:
        f"{STUDY_DIR}/estimate.json",
    params:
        runs=sorted(RUN_BY_ID),  # a changed set of runs is a new prediction
    # First, and alone: it predicts this invocation's runs before any of them trains, and a
    # calibration must not share the cores with training jobs (it would measure them).
    priority: 100
    threads: CORES  # all the cores there are (common.smk), so it runs alone
    resources:
        machine_alone=1,  # and no download beside it (common.smk)
    run:
        from ablate.estimate.prediction import workflow_estimate

        workflow_estimate(config, RUNS, STUDY, CORES, output[0])
