# One job per unique run. The job's threads are torch's threads (1 by default: on a
# small CPU, parallel 1-thread jobs beat multi-threaded ones; REFERENCE.md measures 4-5x).


# Each run's spec.yaml is written by common.smk while the workflow parses (only when
# absent: ablate.store.workflow_files), not by a job of its own.


rule train:
    input:
        spec="results/runs/{run}/spec.yaml",
        data=run_data_files,
    output:
        [f"results/runs/{{run}}/{name}" for name in RUN_FILES],
    log:
        "results/runs/{run}/train.log",
    threads: 1
    # Cluster requests (profiles/slurm turns them into sbatch options; a local run ignores
    # them), estimated from the run's spec by ablate.estimate.job_resources without importing torch.
    # Under Slurm a failed job is retried (`retries` in profiles/slurm: a `retries:` here
    # would also retry inside the expiring Slurm job). A retry follows a time limit or a
    # preemption: the run wrote a checkpoint on SIGTERM (exit 143), the retry resumes from
    # it, and asks for twice the time (and more memory, in case the kill was for memory).
    resources:
        gpu=EXECUTION.gpus,  # 1 per job with device=cuda: --resources gpu=N, Slurm --gpus
        runtime=lambda wildcards, attempt: runtime_minutes(run_of(wildcards.run).spec, attempt),
        mem_mb=lambda wildcards, attempt: memory_mb(run_of(wildcards.run).spec, attempt),
        cpus_per_task=lambda wildcards, threads: threads,
        train_slots=1,  # one of the machine's cores (common.smk: no more jobs than cores)
        # SIGTERM 3 minutes before the time limit, so the run has time to checkpoint
        slurm_extra="--signal=TERM@180",
    # Slurm: --group-components train=N (profiles/slurm) submits N runs as one job, so
    # small runs don't each pay a submission and a status poll. Inactive locally.
    group:
        "train"
    # Execution settings come in through TRAIN_OPTS (common.smk): a global, not part of
    # this template, so changing them is not a rerun trigger. A resumed run's log starts
    # with "resumed from step k" (Snakemake removes the log of a job before rerunning it).
    shell:
        "{ABLATE} train --spec {input.spec} --out results/runs/{wildcards.run}"
        " --threads {threads} {TRAIN_OPTS} > {log} 2>&1"
