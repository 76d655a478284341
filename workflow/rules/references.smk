# The references of each data config of the study (ablate.data.references): n-gram models
# of a text task's train split scored on the runs' validation windows, chance and the best
# loss of a synthetic task. One job per reference key (the data section, the eval set's
# size, the numerics): a study of many variants on one corpus computes them once, and every
# study shares results/references/. The analysis reads these files, never the corpus.
from ablate.data.references import reference_key, reference_spec
from ablate.store.tables import REFERENCE_DIR
from ablate.store.workflow_files import spec_text, write_once

REFERENCE_SPECS = {}  # key -> a run spec of that key (its reference spec is the same for all)
for _run in RUNS:
    REFERENCE_SPECS.setdefault(reference_key(_run.spec), _run.spec)
REFERENCE_FILES = sorted(f"results/{REFERENCE_DIR}/{key}.parquet" for key in REFERENCE_SPECS)


for _key, _spec in REFERENCE_SPECS.items():  # written while parsing, as the run specs are
    write_once(f"results/{REFERENCE_DIR}/{_key}.yaml", spec_text(reference_spec(_spec)))


# Seconds of work (5 M characters: about 3 s after torch loads): a queued cluster job would
# only add waiting.
localrules: references


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
