# One job per unique run. The job's threads are torch's threads (1 by default: on a
# small CPU, parallel 1-thread jobs beat multi-threaded ones; REFERENCE.md measures 4-5x).


localrules: run_spec


rule run_spec:
    """The resolved spec beside the run's outputs: what produced them, and how to redo it."""
    output:
        "results/runs/{run}/spec.yaml",
    params:
        spec=lambda wildcards: RUN_BY_ID[wildcards.run].spec,
    run:
        import yaml
        from ablate.io import atomic_write_bytes

        text = yaml.safe_dump(params.spec, sort_keys=True)
        atomic_write_bytes(Path(output[0]), text.encode())


rule train:
    input:
        spec="results/runs/{run}/spec.yaml",
        data=run_data_files,
    output:
        [f"results/runs/{{run}}/{name}" for name in RUN_FILES],
    log:
        "results/runs/{run}/train.log",
    threads: 1
    resources:
        gpu=EXECUTION.gpus,  # 1 per job with device=cuda: --resources gpu=N, Slurm --gpus
    # Execution settings come in through TRAIN_OPTS (common.smk): a global, not part of
    # this template, so changing them is not a rerun trigger. A resumed run's log starts
    # with "resumed from step k" (Snakemake removes the log of a job before rerunning it).
    shell:
        "{ABLATE} train --spec {input.spec} --out results/runs/{wildcards.run}"
        " --threads {threads} {TRAIN_OPTS} > {log} 2>&1"
