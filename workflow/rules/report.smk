# Study level: the runs' tables -> results/<study>/*.parquet -> analysis -> the report.


# Cheap study-level steps run where Snakemake runs, also under a cluster executor: a
# queued Slurm job for a few seconds of work would only add waiting.
localrules: collect, analyse, report


def collect_inputs(wildcards):
    """The manifest and every file of every run, not only summary.json: a run directory
    without one (say, written before runs kept model.safetensors) is retrained, not found
    damaged here. A function: with tuning, the runs are known after the choice."""
    runs = study_runs()  # first: it writes the manifest
    files = sorted({f"results/runs/{run.run_id}/{name}" for run in runs for name in RUN_FILES})
    return {"manifest": MANIFEST_FILE, "runs": files}


rule collect:
    input:
        unpack(collect_inputs),
    output:
        [f"{STUDY_DIR}/{name}.parquet" for name in STUDY_TABLES],
        study=f"{STUDY_DIR}/study.json",
    log:
        f"{STUDY_DIR}/logs/collect.log",
    shell:
        "{ABLATE} collect --manifest {MANIFEST_FILE} --runs results/runs --out {STUDY_DIR}"
        " > {log} 2>&1"


rule analyse:
    input:
        [f"{STUDY_DIR}/{name}.parquet" for name in STUDY_TABLES],
        f"{STUDY_DIR}/study.json",  # it lists the reference files
        REFERENCE_FILES,  # references.smk: computed from the corpus, read here
    output:
        directory(f"{STUDY_DIR}/analysis"),
    log:
        f"{STUDY_DIR}/logs/analyse.log",
    shell:
        "{ABLATE} analyse --study-dir {STUDY_DIR} --references results/{REFERENCE_DIR}"
        " > {log} 2>&1"


# The report's exports (leaderboard .md/.tex/.csv, each chart as SVG and PNG): a folder
# named like the page, written whole by `ablate report` beside the page.
REPORT_EXPORTS = REPORT.removesuffix(".html")


rule report:
    input:
        f"{STUDY_DIR}/analysis",
        f"{STUDY_DIR}/study.json",
        f"{STUDY_DIR}/estimate.json",  # the prediction, against the runs' actual time
    output:
        REPORT,
        directory(REPORT_EXPORTS),
    log:
        f"{STUDY_DIR}/logs/report.log",
    # the charts' SVGs render on every core (report/exports.py): it runs last, after every
    # run, so nothing waits for those cores
    threads: CORES
    shell:
        "{ABLATE} report --study-dir {STUDY_DIR} --out {output[0]} > {log} 2>&1"
