# Validate the config and expand it into runs. Plain Python from src/ablate (no torch:
# a no-op rerun must stay fast). Any problem stops Snakemake here, before any job runs,
# with every offending key named.
import json
import os
import sys
from pathlib import Path

SRC = str(Path(workflow.basedir) / "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)

from ablate.data.sources import corpus_files
from ablate.study.execution import execution
from ablate.estimate.job_resources import memory_mb, runtime_minutes
from ablate.study.expand import ConfigError, expand_study, from_command_line
from ablate.study.manifest import manifest
from ablate.study.tuning import TUNE, read_choice, tuning_of
from ablate.store.tables import RUN_FILES, STUDY_TABLES
from ablate.store.atomic import json_bytes
from ablate.store.workflow_files import spec_text, write_if_changed, write_once

config.update(from_command_line(config))
try:
    RUNS = expand_study(config)
except ConfigError as error:
    raise WorkflowError(str(error)) from None

STUDY = config["study"]
# A study with `tune:` (ablate.study.tuning) trains in two stages: RUNS are then its tuning
# runs and its untuned variants' runs; the tuned variants' comparison runs follow once the
# `tune` checkpoint (tune.smk) has chosen their values (study_runs).
TUNING = tuning_of(config)
RUN_BY_ID = {run.run_id: run for run in RUNS}
STUDY_DIR = f"results/{STUDY}"
REPORT = f"reports/{STUDY}.html"
MANIFEST_FILE = f"{STUDY_DIR}/manifest.json"
TUNING_MANIFEST = f"{STUDY_DIR}/tuning/manifest.json"
# Written now, not by jobs (a `run:` job is a Snakemake subprocess that parses all this
# again): each run's spec.yaml if absent, the manifest (which runs make up the study, under
# which variant and seed names) if changed. ablate.store.workflow_files says why.
for _run in RUNS:
    write_once(f"results/runs/{_run.run_id}/spec.yaml", spec_text(_run.spec.to_dict()))
if TUNING is None:
    write_if_changed(MANIFEST_FILE, json_bytes(manifest(config, RUNS)))
else:
    _tuning_runs = [run for run in RUNS if run.stage == TUNE]
    write_if_changed(TUNING_MANIFEST, json_bytes(manifest(config, _tuning_runs)))


def study_runs():
    """Every run of the study. With tuning, once the `tune` checkpoint has chosen, the
    tuned variants' comparison runs too: their specs and the study's manifest are written
    here, as the others' while parsing. Before the choice, checkpoints.tune.get() raises
    Snakemake's IncompleteCheckpointException and the jobs that need these runs wait."""
    if TUNING is None:
        return RUNS
    runs = expand_study(config, choice=read_choice(checkpoints.tune.get().output[0]))
    for run in runs:
        if run.run_id not in RUN_BY_ID:
            write_once(f"results/runs/{run.run_id}/spec.yaml", spec_text(run.spec.to_dict()))
            RUN_BY_ID[run.run_id] = run
    write_if_changed(MANIFEST_FILE, json_bytes(manifest(config, runs)))
    return runs


def run_of(run_id):
    """The run of this id. A comparison run of a tuned variant is known once chosen: in a
    cluster job, whose Snakemake parses afresh, from the choice file itself."""
    if run_id not in RUN_BY_ID and TUNING is not None:
        choice = read_choice(f"{STUDY_DIR}/tuning/choice.json")
        RUN_BY_ID.update((run.run_id, run) for run in expand_study(config, choice=choice))
    return RUN_BY_ID[run_id]
# How runs execute, not what they compute (ablate.study.execution): a global read by the train
# rule's shell template, so changing it is no rerun trigger.
EXECUTION = execution(config)
TRAIN_OPTS = EXECUTION.train_options()
# The interpreter running Snakemake runs the jobs too, with this checkout's src/ first.
# `exec`: the program replaces the job's shell. Slurm's SIGTERM before a time limit goes to
# every process of the job step; a shell in between would die at once, the job would end
# as "killed" rather than with the trainer's exit code, and Slurm kills what is left of a
# finished step: possibly the trainer, still writing its checkpoint.
ABLATE = f"PYTHONPATH={SRC}${{PYTHONPATH:+:$PYTHONPATH}} exec {sys.executable} -m ablate"

wildcard_constraints:
    run="[0-9a-f]{16}",


def run_data_files(wildcards):
    """Corpus files a run reads (fetched by data.smk), none for synthetic tasks."""
    return corpus_files(run_of(wildcards.run).spec.data)


# The cores Snakemake was given. Invocations without --cores (`snakemake --unlock`, ...) run
# no job, and there workflow.cores raises instead of answering.
try:
    CORES = workflow.cores or 1
except WorkflowError:
    CORES = 1

# At most one training job per core of this machine, whatever --cores says: a run's one
# torch thread keeps a core busy, and more runs than cores only share the cores in time,
# so the study ends no sooner, each run's own timings (wall_s, tokens/s) stretch, and the
# runs in flight hold their memory longer. `snakemake --cores 4` on 2 cores trains 2 at
# a time (docs/estimate.md has the measurement); `--resources train_slots=N` sets another
# limit. Where jobs run on this machine only, and not for GPU jobs (the gpu resource and
# gpu_share limit those).
MACHINE_CORES = len(os.sched_getaffinity(0))
TRAIN_SLOTS = "train_slots"
if workflow.local_exec and not EXECUTION.gpus and TRAIN_SLOTS not in workflow.global_resources:
    workflow.register_resource(TRAIN_SLOTS, MACHINE_CORES)
# The estimate rule may calibrate the machine, which must have it to itself: a job that
# holds no core (a download, threads 0) still takes this one slot and waits for it.
ALONE = "machine_alone"
if ALONE not in workflow.global_resources:
    workflow.register_resource(ALONE, 1)

# A one-line estimate of the study's wall time on a dry run (ablate.estimate.prediction: torch-free,
# from a cached calibration; it never calibrates here, where every parse would pay). Snakemake
# knows it is a dry run only after parsing, so the command line says it.
if {"-n", "-np", "-pn", "--dry-run", "--dryrun"} & set(sys.argv):
    from ablate.estimate.prediction import dry_run_line

    _configfile = (workflow.overwrite_configfiles or [None])[0]
    _line = dry_run_line(RUNS, STUDY_DIR, CORES, _configfile, config)
    if _line:
        print(_line, file=sys.stderr)
