"""The one place that names every table, column and unit the lab writes.

Each run directory ``results/runs/<run_id>/`` holds the per-run tables below; the collect
step concatenates them into ``results/<study>/<table>.parquet`` and prepends the study
columns (run_id, variant, seed, task). Analysis reads only these files, so it can be rerun
on old results without training anything.

All tables are long format: one row per observation. Pure Python, no torch, no pandas.
"""

from __future__ import annotations

from ablate.probes.status import STATUSES, statuses_where
from ablate.store.spec_columns import spec_descriptions

# Columns every study-level table gets in front of the per-run columns.
STUDY_KEYS = {
    "run_id": "str: hash of the fully resolved run spec (the run's directory name)",
    "variant": "str: variant name ('baseline', 'n_head=8', 'size/d_model=32,n_layer=1', …)",
    "seed": "int: the study seed (init and data seed of the run)",
    "task": "str: data.task of the run",
}

TABLES: dict[str, dict[str, str]] = {
    # one row per optimizer step
    "steps": {
        "step": "int: optimizer step, 1-based",
        "loss": "float: training loss (nats/token, answer positions only for synthetic tasks)",
        "lr": "float: learning rate used at this step",
        "grad_norm": "float: global L2 norm of the gradient before clipping",
        "clipped": "bool: gradient was clipped at this step",
        "tokens": "int: training tokens seen so far",
        "time_s": "float: wall seconds since training started",
    },
    # one row per (eval step, evaluated length); validation / held-out set, fixed per task
    "evals": {
        "step": "int: optimizer step after which the evaluation ran",
        "split": "str: 'val' (or 'train' for a train-set estimate)",
        "seq_len": "int: evaluated sequence length (training length, or longer ones)",
        "loss": "float: nats/token on scored positions; NaN if skipped",
        "bpc": "float: bits per character (text tasks; loss/ln 2 per char); NaN otherwise",
        "token_acc": "float: fraction of scored tokens predicted exactly (argmax)",
        "seq_acc": "float: fraction of sequences whose scored tokens are all correct",
        "note": "str: empty, or why the evaluation was skipped (e.g. longer than context)",
    },
    # gradient norm per layer and module kind, every step
    "grads": {
        "step": "int: optimizer step",
        "layer": "int: block index, -1 for parameters outside blocks (embedding, head, final norm)",
        "module": "str: embedding | attention | ffn | norm | head",
        "grad_norm": "float: L2 norm of the gradient of this group (before clipping)",
    },
    # probe measurements on the fixed probe batch, every probe_every steps
    "probes": {
        "step": "int: optimizer step after which the probe ran (0 = at init)",
        "layer": "int: block index, -1 for output-level metrics",
        "head": "int: head index, -1 for layer-level metrics",
        "metric": (
            "str: attn_entropy (normalised: 1 uniform, 0 one-hot) | attn_logit_max "
            "(max pre-softmax q.k/sqrt(d_h)) | resid_rms (RMS of "
            "the residual stream after the block) | update_ratio (||dW|| / ||W|| of the "
            "block's parameters since the previous probe, per step) | out_logit_max "
            "(max |output logit|) | out_log_z (mean log partition function) | sink_mass "
            "(per head: mean attention on the first position, queries after it; probes.sinks) "
            "| sink_uniform (the sink mass uniform attention over the visible keys would "
            "give: the reference for sink_mass) | massive_ratio (per layer: max |h| / "
            "median |h| of the residual stream after the block; probes.sinks)"
        ),
        "value": "float",
    },
    # the training-dynamics instruments (probes.noise_scale, probes.sharpness), one row per
    # probe step, measured on the batch the next step trains on (train/instruments.py);
    # no rows when both are off, NaN for an instrument that is off
    "curvature": {
        "step": "int: optimizer step after which the instruments ran (0 = at init)",
        "lr": "float: learning rate of the next step (the one the thresholds are about)",
        "batch_size": "int: train.batch_size in sequences, beside the noise scale",
        "noise_scale": "float: B_simple = tr(Sigma) / |G|^2 in sequences, from the smoothed "
        "estimates (EMA 0.9); NaN while the |G|^2 estimate is not positive (a batch far "
        "below the critical size cannot resolve it)",
        "noise_g2": "float: smoothed unbiased estimate of |G|^2, the true gradient's norm^2",
        "noise_trace": "float: smoothed unbiased estimate of tr(Sigma) per sequence",
        "sharpness": "float: top eigenvalue of the loss Hessian (power iteration)",
        "sharpness_precond": "float: top eigenvalue of P^-1 H, P = (sqrt(v_hat) + eps) / lr_mult "
        "of Adam; NaN at step 0",
        "eos_gd": "float: 2 / lr, gradient descent's stability threshold (Cohen et al. 2021)",
        "eos_adam": "float: (2 + 2 beta1) / ((1 - beta1) lr), Adam's (Cohen et al. 2022)",
    },
    # final attention maps of the probe sequence (first example), at most 64x64 per head
    "attn_maps": {
        "layer": "int: block index",
        "head": "int: head index",
        "query": "int: query position",
        "key": "int: key position",
        "weight": "float: attention probability",
    },
    # text tasks only (none for synthetic ones): continuations of a fixed prompt sampled from
    # the final model after the last step (train/sampling.py), so they change no number above
    "samples": {
        "prompt": "str: the first tokens of the validation split, decoded (the same every run)",
        "text": "str: the sampled continuation (prompt excluded), decoded by the task's tokenizer",
        "temperature": "float: softmax temperature the tokens were drawn at",
        # not `seed`: that name is the study key in front of every study table
        "sample_seed": "int: seed of the torch.Generator that drew them (the run's seed)",
        "n_tokens": "int: tokens sampled (fewer than asked only where the logits went non-finite)",
    },
}

# Columns collect adds when it judges a run with the study's status rules (probes/status.py):
# a run records only what it measured, so new rules re-judge old runs without retraining.
JUDGED_STEP_COLUMNS = {
    "loss_spike": "bool: the spike detector flags the loss at this step",
    "grad_spike": "bool: the spike detector flags the grad norm at this step",
}
JUDGED = {
    "status": "str: " + " | ".join(STATUSES) + " (probes/status.py says what each means)",
    "reason": "str: human-readable reason for the status",
    "status_step": "int: step where the status was decided (-1 when ok)",
    "n_loss_spikes": "int: loss spikes flagged by the spike detector",
    "n_grad_spikes": "int: grad-norm spikes flagged by the spike detector",
}

# One row per run: the run's summary.json, flattened. Units in the descriptions.
SUMMARY = {
    "steps_done": "int: optimizer steps completed",
    "stopped": "str: why training ended early: '' (it did not), 'diverged' or 'oom'",
    "stopped_step": "int: step where training ended early, else -1",
    "stopped_reason": "str: what happened there (empty unless stopped)",
    "n_params": "int: all trainable parameters",
    "n_params_non_embedding": "int: parameters excluding token/position embeddings and head",
    "initial_loss": "float: training loss at step 1",
    "ln_vocab": "float: ln(vocab_size), the loss of a uniform predictor",
    "initial_loss_ok": "bool: |initial_loss - ln_vocab| within tolerance",
    "baseline_loss": "float: unigram (or uniform) loss the run must beat to count as learning",
    "final_train_loss": "float: mean training loss over the last 10% of steps",
    "final_val_loss": "float: validation loss at the last evaluation (training length)",
    "final_val_acc": "float: validation token accuracy at the last evaluation",
    "best_val_loss": "float: lowest validation loss over evaluations",
    "n_clipped": "int: steps whose gradient was clipped",
    "max_grad_norm": "float: largest global grad norm",
    "median_grad_norm": "float: median global grad norm",
    "final_attn_entropy_min": "float: lowest normalised head entropy at the last probe",
    "final_attn_logit_max": "float: largest attention logit at the last probe",
    "tokens": "int: training tokens seen",
    "tokens_per_s": "float: training throughput",
    "wall_s": "float: wall seconds of the whole run (training, evals, probes)",
    "threads": "int: torch intra-op threads",
    "device": "str: cpu | cuda | mps: where the run trained (not part of its identity)",
    "device_name": "str: the GPU model, or the CPU model",
    "dtype": "str: fp32, or bf16-autocast (matmuls and attention in bfloat16)",
    "torch_version": "str",
    "numerics_version": "int: spec.NUMERICS_VERSION of the code that trained the run",
    "resumed_at": "str: steps at which the run resumed from a checkpoint, comma-separated",
    "host": "str: hostname of the machine that finished the run",
    "slurm_job_id": "str: $SLURM_JOB_ID of the job that finished the run (empty outside Slurm)",
}

# Columns that describe how a run was executed, not what it computed: they differ between
# an interrupted-and-resumed run and an uninterrupted one, or between two runs of one spec.
EXECUTION_COLUMNS = ("time_s", "tokens_per_s", "wall_s", "resumed_at", "host", "slurm_job_id")

# Columns collect computes from the run spec and the summary, like JUDGED: a run does not
# record them, so a corrected formula applies to old runs without retraining.
DERIVED = {
    "flops": (
        "float: training compute, model.params.flops_per_token(model, training seq_len) "
        "* tokens (Kaplan et al. 2020: 6 N_non_embedding + 6 n_layer n_ctx d_attn per token)"
    ),
}

# study-level: results/<study>/runs.parquet = STUDY_KEYS + these + JUDGED + SUMMARY
# + DERIVED + SPEC_COLUMNS
RUN_COLUMNS = {
    "group": "str: 'base', the ablated key ('model.n_head') or the grid name ('size')",
    "overrides": (
        "str: the keys this variant changes against base, for people to read: "
        "'model.d_model=8, model.n_layer=1' ('' for the baseline); the values are typed in "
        "the spec columns"
    ),
    "log": "str: path of the run's log file",
    "stage": (
        "str: 'compare' (a run of the study's comparison: every statistic uses these) or "
        "'tune' (a tuning run at a grid point and a tuning seed: study/tuning.py)"
    ),
    "tuned": "str: the tuned keys' values of this run, 'train.lr=0.003' ('' if not tuned)",
    "ladder": "str: the variant whose size ladder this run is on ('' if none: study/ladder.py)",
    "rung": (
        "bool: an extra rung of that ladder, not a variant of the comparison (the statistics "
        "but the scaling of variants leave it out)"
    ),
}

SPEC_COLUMNS = spec_descriptions()  # flat columns of the run spec (store/spec_columns.py)

# Tables written by analysis (results/<study>/analysis/<name>.parquet); each module's
# docstring states the rule it computes.
ANALYSIS = {
    "seeds": "analysis/seeds.py: mean, interval in range; paired t-test vs baseline, Holm",
    "stability": "analysis/stability.py: components, score and tier",
    "lr_sensitivity": "analysis/lr_sensitivity.py: Wortsman et al. 2023 LR sensitivity",
    "lr_curves": "analysis/lr_sensitivity.py: loss against lr per family",
    "scaling_points": "analysis/scaling.py: one point per variant of each scaling family",
    "scaling_fits": "analysis/scaling_fit.py: L = E + A x^-alpha fits, CIs, extrapolation",
    "leaderboard": "analysis/ranking.py: per-task rank; variants tied with the best (MCB)",
    "failures": "analysis/ranking.py: every run whose status is not ok (FAILURE_COLUMNS)",
    "effects": "analysis/effects.py: main effects and 2-way interactions of factorial grids",
    "length": "analysis/length.py: loss and accuracy at 1x, 2x, 4x the training length",
    "references": "analysis/reference_losses.py: n-gram, chance and best losses per task",
    "tuning": "analysis/tuning_choice.py: each tuned variant's grid points, the chosen one marked",
    "scaling_variants": "analysis/scaling_variants.py: each ladder's slope, paired vs baseline",
    "ladder_points": "analysis/scaling_variants.py: each ladder rung's mean loss, N and FLOPs",
}

# The references of one data config (ablate.data.references), computed by a workflow job
# (`ablate references`) into results/<REFERENCE_DIR>/<key>.parquet, beside the study
# directories: the corpus is read there, so the analysis never reads one.
REFERENCE_DIR = "references"
REFERENCE_COLUMNS = {
    "reference": (
        "str: unigram | bigram | trigram | 4-gram | 5-gram (n-gram models of the train "
        "split; synthetic tasks: unigram is the task's baseline_loss) | chance (a uniform "
        "guess over the tokens a scored position can take) | best (the lowest loss possible)"
    ),
    "seq_len": "int: the eval length it is scored at (one row per eval set)",
    "val_loss": "float: nats/token on the scored positions of the runs' eval set",
    "method": "str: how it was computed ('interpolated modified Kneser-Ney, D1/D2/D3+=...')",
}
# analysis/references.parquet: these columns in front of REFERENCE_COLUMNS, one row per
# (task, data config, reference, eval length)
REFERENCE_KEYS = {
    "task": "str: the study's task name (as in runs.parquet)",
    "data_key": "str: the data config's reference key (results/references/<key>.parquet)",
    "variants": "list<str>: the task's variants that run on this data config",
}

# The failures table: one row per run whose status is not ok.
FAILURE_COLUMNS = {
    "task": "task",
    "variant": "variant",
    "seed": "seed",
    "run_id": "run directory under results/runs/",
    "status": " | ".join(statuses_where(failure=True)),
    "status_step": "step where the status was decided",
    "reason": "why",
    "log": "the run's log file",
}

# The final weights of a run (safetensors; metadata: spec_hash, numerics_version, spec as
# JSON), written by train/saved_model.py, read back by ``ablate.load_run``.
MODEL_FILE = "model.safetensors"

# The study tables (results/<study>/<name>.parquet) and a run directory's files; summary.json
# is written last, so it is listed first (Snakemake's outputs of a run).
STUDY_TABLES = ["runs", *TABLES]
RUN_FILES = ["summary.json", *(f"{name}.parquet" for name in TABLES), MODEL_FILE]


def study_columns(name: str) -> list[str]:
    """The columns of results/<study>/<name>.parquet, in order."""
    if name == "runs":
        return [*STUDY_KEYS, *RUN_COLUMNS, *JUDGED, *SUMMARY, *DERIVED, *SPEC_COLUMNS]
    extra = JUDGED_STEP_COLUMNS if name == "steps" else {}
    return [*STUDY_KEYS, *TABLES[name], *extra]
