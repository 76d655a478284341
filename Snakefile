# Mini Transformer Lab: config.yaml -> runs -> study tables -> analysis -> report.
#
#   snakemake --cores 4                                # the study in config.yaml
#   snakemake --cores 4 --configfile config/tiny.yaml  # another study instead
#
# Runs live in content-addressed directories results/runs/<hash of the resolved spec>/,
# so an identical run is trained once across variants and studies.

# A study given with --configfile replaces config.yaml instead of being deep-merged into
# it (Snakemake's default), which would mix the two studies' ablations, grids and tasks.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"



include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/tune.smk"
include: "workflow/rules/references.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/estimate.smk"


rule all:
    input:
        REPORT,
        REPORT_EXPORTS,
