"""What a run measures beyond its loss, and what a finished run is judged to be.

    gradients.py        gradient norms per layer and module kind, update/weight ratios
    attention_stats.py  attention entropy (collapse), logit growth, attention sinks and
                        massive activations on the probe batch
    curvature.py        sharpness: the Hessian's top eigenvalue, plain and Adam-preconditioned
    noise_scale.py      the gradient noise scale B_simple (torch-free)
    spikes.py           online spike detection (torch-free)
    status.py           the statuses (what each means: STATUSES) and the judging of a run
                        from its records (torch-free: collect and the analysis read it)

Takes in: a model's gradients and attention maps (train/), a finished run's records
(store/). Gives out: probe metrics, a status with its reason.

Imports from ablate: spec.
Torch: only in gradients, attention_stats, curvature.
"""
