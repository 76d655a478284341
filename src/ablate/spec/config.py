"""Plain-data configuration of one run: model, training and data settings.

Pure Python (no torch): the Snakemake DAG layer resolves and hashes these, and a
no-op rerun must stay fast. Every field here is a config key (``model.d_model`` …), and
its annotation and ``key(...)`` bounds are the only statement of the key's type and range:
``ablate.spec.validation`` generates the JSON schema's per-key part from them and checks every
resolved value against the same schema. Rules that join several keys live in
``ablate.spec.run_spec.spec_errors`` (and, for one variant, beside its registry entry).

Variant names (attention mechanism, positional encoding, …) are strings resolved through
the registries in ``ablate.spec.registry`` (``registry.CHOICES`` says which key takes which).
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field


def key(default=MISSING, *, factory=MISSING, **bounds):
    """A config key with its range: ge / gt / le / lt (numbers), or items=dict(ge=...) for
    a list's entries. Stored in the field's metadata, so asdict() and hashes ignore it."""
    return field(default=default, default_factory=factory, metadata=bounds)


@dataclass(frozen=True)
class ModelConfig:
    # size
    d_model: int = key(64, ge=1)
    n_layer: int = key(2, ge=1)
    n_head: int = key(4, ge=1)
    d_ff: int | None = key(None, ge=1)  # hidden width of the FFN; None -> ffn_ratio * d_model
    ffn_ratio: float = key(4.0, gt=0)
    context: int = key(256, ge=1)  # longest sequence the model accepts
    vocab_size: int = key(0, ge=0)  # set from the data at train time; 0 means "from data"
    dropout: float = key(0.0, ge=0, lt=1)
    bias: bool = False
    # attention
    attention: str = "mha"  # registry.ATTENTION
    # gqa: number of key/value heads (divides n_head); how many a mechanism has is its
    # registry entry's kv_heads (registry.ATTENTION)
    n_kv_head: int | None = key(None, ge=1)
    qk_norm: bool = False  # normalise q and k per head (Wortsman et al. 2023)
    window: int | None = key(None, ge=1)  # sliding-window attention: keys within `window` back
    # softmax with an extra zero logit ("off by one": a zero key and value every query sees),
    # so a head may attend to nothing; softmax mechanisms only
    softmax_one: bool = False
    # positions
    pos: str = "learned"  # registry.POSITION
    rope_base: float = key(10000.0, gt=0)
    # normalisation
    norm: str = "layernorm"  # registry.NORM
    norm_placement: str = "pre"  # registry.NORM_PLACEMENT
    # feed-forward
    ffn: str = "gelu"  # registry.FFN
    ffn_match_params: bool = False  # swiglu: hidden = 2/3 * d_ff so params match a 2-matrix MLP
    # init and head
    init_std: float = key(0.02, gt=0)
    scale_residual_init: bool = True  # GPT-2: residual projections std / sqrt(2 * n_layer)
    tie_head: bool = True  # LM head shares the token embedding matrix
    # parametrization (registry.PARAMETRIZATION): "sp", or "mup" (Yang et al. 2022), which
    # scales hidden matrices' init and Adam lr, the output logits and the attention scale
    # with d_model / mup_base_width, so that a tuned lr carries across widths
    parametrization: str = "sp"
    mup_base_width: int | None = key(None, ge=1)  # mup: the width at which it equals sp

    @property
    def ffn_hidden(self) -> int:
        return self.d_ff if self.d_ff is not None else int(round(self.ffn_ratio * self.d_model))

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head


@dataclass(frozen=True)
class TrainConfig:
    steps: int = key(500, ge=1)
    batch_size: int = key(32, ge=1)
    lr: float = key(1e-3, gt=0)
    min_lr_ratio: float = key(0.1, ge=0, le=1)  # the schedule decays to lr * min_lr_ratio
    schedule: str = "cosine"  # registry.SCHEDULE: cosine, or wsd (warmup-stable-decay)
    decay_fraction: float = key(0.2, gt=0, le=1)  # wsd: the last fraction of steps decays
    warmup_steps: int = key(50, ge=0)  # at most train.steps
    weight_decay: float = key(0.1, ge=0)
    beta1: float = key(0.9, ge=0, lt=1)
    beta2: float = key(0.99, ge=0, lt=1)
    grad_clip: float = key(1.0, ge=0)  # max global grad norm; 0 disables clipping
    z_loss: float = key(0.0, ge=0)  # coefficient of log^2 Z auxiliary loss (PaLM)
    precision: str = "fp32"  # registry.PRECISION
    eval_every: int = key(50, ge=1)
    eval_batches: int = key(8, ge=1)  # validation batches of batch_size sequences
    # diagnostics
    probe_every: int = key(50, ge=1)
    # training stops here (so it shapes the run's tables): loss > diverge_factor * initial
    diverge_factor: float = key(3.0, gt=1)


@dataclass(frozen=True)
class DataConfig:
    task: str = "shakespeare_char"  # registry.TASKS (text corpora and synthetic tasks)
    seq_len: int = key(64, ge=1)  # training sequence length
    path: str | None = None  # text_file: a local UTF-8 file
    tokenizer: str = "char"  # registry.TOKENIZER
    val_fraction: float = key(0.1, gt=0, lt=1)
    # synthetic tasks
    vocab: int = key(32, ge=4)  # synthetic vocabulary size
    n_pairs: int = key(4, ge=1)  # mqar: key/value pairs per sequence
    length: int = key(8, ge=1)  # copy / reverse / sort: length of the input sequence
    modulus: int = key(97, ge=2)  # modadd: p
    train_fraction: float = key(0.5, gt=0, lt=1)  # modadd: fraction of (a, b) pairs trained on
    # length generalisation: one longer eval set per entry (x 1 would repeat the training set)
    eval_multipliers: list[int] = key(factory=lambda: [2, 4], items=dict(ge=2))


@dataclass(frozen=True)
class StatusRules:
    """How a finished run is judged (ablate.probes.status): the study's ``status:`` key.

    Not part of any run's identity: the run records what it measured, and collect applies
    these rules, so a changed threshold re-judges every run without training one again.
    """

    spike_window: int = key(25, ge=5)  # rolling window of the spike detector
    spike_k: float = key(6.0, gt=0)  # spike = value > median + k * MAD-based robust deviation
    max_spikes: int = key(5, ge=0)  # more loss spikes than this -> status "unstable"
    collapse_threshold: float = key(0.05, ge=0, lt=1)  # every head of a layer below: collapsed
    stall_fraction: float = key(0.05, ge=0, lt=1)  # must beat the baseline loss by this much
    spike_floor: float = key(0.3, ge=0)  # a loss spike must also rise this many nats


@dataclass(frozen=True)
class ProbeConfig:
    """Which training-dynamics instruments run at each probe step: the study's ``probes:``
    key, the same for every run of a study. Part of a run's identity (an instrument adds
    tables), but none changes the run's trajectory: its losses are the same bits with every
    instrument on or off (train/instruments.py says how)."""

    sinks: bool = True  # attention sink mass per head and massive activations per layer
    noise_scale: bool = True  # the gradient noise scale B_simple (McCandlish et al. 2018)
    noise_micro_batches: int = key(4, ge=2)  # the batch's gradient vs its micro-batches'
    # sharpness: the loss Hessian's top eigenvalue, plain and Adam-preconditioned, by power
    # iteration on Hessian-vector products; off by default (each product costs ~3 steps)
    sharpness: bool = False
    sharpness_iters: int = key(20, ge=1)  # at most this many products per probe
    sharpness_batch: int = key(8, ge=1)  # sequences of the next training batch it uses


SECTIONS = {"model": ModelConfig, "train": TrainConfig, "data": DataConfig, "probes": ProbeConfig}
# the sections a study's base, tasks and variants may set; probes is study-wide
VARIANT_SECTIONS = ("model", "train", "data")
