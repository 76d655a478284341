"""Plain-data configuration of one run: model, training and data settings.

Pure Python (no torch import): the Snakemake DAG layer resolves and hashes these, and a
no-op rerun must stay fast. Every field here is a config key (``model.d_model`` …); the JSON
schema in ``workflow/schemas/config.schema.yaml`` lists the same keys (a test keeps them in
sync) and ``ablate.spec`` checks values and cross-field constraints with errors that name
the offending key.

Variant names (attention mechanism, positional encoding, …) are strings resolved to classes
through the registries in ``ablate.registry``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModelConfig:
    # size
    d_model: int = 64
    n_layer: int = 2
    n_head: int = 4
    d_ff: int | None = None  # hidden width of the FFN; None -> ffn_ratio * d_model
    ffn_ratio: float = 4.0
    context: int = 256  # longest sequence the model accepts (learned position table size)
    vocab_size: int = 0  # set from the data at train time; 0 in configs means "from data"
    dropout: float = 0.0
    bias: bool = False
    # attention
    attention: str = "mha"  # registry: mha | gqa | mqa | linear
    n_kv_head: int | None = None  # gqa only: number of key/value heads (divides n_head)
    qk_norm: bool = False  # normalise q and k per head (Wortsman et al. 2023)
    window: int | None = None  # sliding-window local attention: keys within `window` back
    # positions
    pos: str = "learned"  # registry: learned | sinusoidal | rope | alibi | none
    rope_base: float = 10000.0
    # normalisation
    norm: str = "layernorm"  # registry: layernorm | rmsnorm
    norm_placement: str = "pre"  # pre | post
    # feed-forward
    ffn: str = "gelu"  # registry: gelu | relu | swiglu
    ffn_match_params: bool = False  # swiglu: hidden = 2/3 * d_ff so params match a 2-matrix MLP
    # init and head
    init_std: float = 0.02
    scale_residual_init: bool = True  # GPT-2: residual projections std / sqrt(2 * n_layer)
    tie_head: bool = True  # LM head shares the token embedding matrix

    @property
    def ffn_hidden(self) -> int:
        return self.d_ff if self.d_ff is not None else int(round(self.ffn_ratio * self.d_model))

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    @property
    def kv_heads(self) -> int:
        if self.attention == "mqa":
            return 1
        if self.attention == "gqa":
            return self.n_kv_head if self.n_kv_head is not None else self.n_head
        return self.n_head


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 500
    batch_size: int = 32
    lr: float = 1e-3
    min_lr_ratio: float = 0.1  # cosine decays to lr * min_lr_ratio
    warmup_steps: int = 50
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0  # max global grad norm; 0 disables clipping
    z_loss: float = 0.0  # coefficient of log^2 Z auxiliary loss (PaLM / Wortsman et al.)
    precision: str = "fp32"  # fp32 | bf16 (autocast)
    eval_every: int = 50
    eval_batches: int = 8  # validation batches of batch_size sequences
    # diagnostics
    probe_every: int = 50
    # training stops here (so it shapes the run's tables): loss > diverge_factor * initial
    diverge_factor: float = 3.0


@dataclass(frozen=True)
class DataConfig:
    task: str = "shakespeare_char"  # registry of tasks (text corpora and synthetic tasks)
    seq_len: int = 64  # training sequence length
    path: str | None = None  # text tasks: a local UTF-8 file instead of the packaged corpus
    tokenizer: str = "char"  # text tasks: char | byte
    val_fraction: float = 0.1
    # synthetic tasks
    vocab: int = 32  # synthetic vocabulary size
    n_pairs: int = 4  # mqar: key/value pairs per sequence
    length: int = 8  # copy / reverse / sort: length of the input sequence
    modulus: int = 97  # modadd: p
    train_fraction: float = 0.5  # modadd: fraction of all (a, b) pairs used for training
    eval_multipliers: list[int] = field(default_factory=lambda: [2, 4])  # length generalisation


@dataclass(frozen=True)
class StatusRules:
    """How a finished run is judged (ablate.probes.status): the study's ``status:`` key.

    Not part of any run's identity: the run records what it measured, and collect applies
    these rules, so a changed threshold re-judges every run without training one again.
    """

    spike_window: int = 25  # rolling window of the spike detector
    spike_k: float = 6.0  # spike = value > median + k * MAD-based robust deviation
    max_spikes: int = 5  # more loss spikes than this -> status "unstable"
    collapse_threshold: float = 0.05  # normalised attention entropy below this -> collapsed
    stall_fraction: float = 0.05  # must beat the baseline loss by this fraction, else stalled


SECTIONS = {"model": ModelConfig, "train": TrainConfig, "data": DataConfig}
