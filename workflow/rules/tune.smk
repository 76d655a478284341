# The tuning stage of a study with `tune:` (ablate.study.tuning): once every tuning run has
# trained, choose each tuned (task, variant)'s values. A checkpoint: the comparison runs
# depend on the choice, so Snakemake re-evaluates the DAG after this job (study_runs in
# common.smk). A changed tuning manifest (a value added to the grid, other status rules)
# or a retrained tuning run makes it choose again; a comparison run whose chosen value did
# not change keeps its id and is not retrained.
if TUNING is not None:

    localrules: tune

    checkpoint tune:
        input:
            manifest=TUNING_MANIFEST,
            runs=sorted(
                {
                    f"results/runs/{run.run_id}/{name}"
                    for run in RUNS
                    if run.stage == TUNE
                    for name in RUN_FILES
                }
            ),
        output:
            f"{STUDY_DIR}/tuning/choice.json",
        log:
            f"{STUDY_DIR}/logs/tune.log",
        shell:
            "{ABLATE} choose --manifest {input.manifest} --runs results/runs --out {output}"
            " > {log} 2>&1"
