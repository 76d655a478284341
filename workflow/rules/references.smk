# The references of each data config of the study (ablate.data.references): n-gram models
# of a text task's train split scored on the runs' validation windows, chance and the best
# loss of a synthetic task. One job per reference key (the data section, the eval set's
# size, the numerics): a study of many variants on one corpus computes them once, and every
# study shares results/references/. The analysis reads these files, never the corpus.
from ablate.data.references import reference_key, reference_spec
from ablate.store.tables import REFERENCE_DIR

REFERENCE_SPECS = {}  # key -> the spec.yaml its job reads (the same for every run of the key)
for _run in RUNS:
    REFERENCE_SPECS.setdefault(reference_key(_run.spec), _run.spec)
REFERENCE_FILES = sorted(f"results/{REFERENCE_DIR}/{key}.parquet" for key in REFERENCE_SPECS)


# Seconds of work (5 M characters: about 3 s after torch loads): a queued cluster job would
# only add waiting.
localrules: reference_spec, references


rule reference_spec:
    output:
        f"results/{REFERENCE_DIR}/{{key}}.yaml",
    wildcard_constraints:
        key="[0-9a-f]{16}",
    params:
        spec=lambda wildcards: reference_spec(REFERENCE_SPECS[wildcards.key]),
    run:
        import yaml
        from ablate.store.atomic import atomic_write_bytes

        text = yaml.safe_dump(params.spec, sort_keys=True)
        atomic_write_bytes(Path(output[0]), text.encode())


rule references:
    input:
        spec=f"results/{REFERENCE_DIR}/{{key}}.yaml",
        data=lambda wildcards: corpus_files(REFERENCE_SPECS[wildcards.key].data),
    output:
        f"results/{REFERENCE_DIR}/{{key}}.parquet",
    wildcard_constraints:
        key="[0-9a-f]{16}",
    log:
        f"results/{REFERENCE_DIR}/{{key}}.log",
    shell:
        "{ABLATE} references --spec {input.spec} --out {output} > {log} 2>&1"
