"""How a study's runs execute: where, how many share a GPU, how often they checkpoint.

Top-level study keys (or ``snakemake --config device=cuda``), outside ``base``: none of them
is part of a run's identity, so a study moved from a laptop to a GPU cluster reuses its
finished runs, and none reaches Snakemake's rerun triggers (the train rule's shell template
reads them through a global, ``TRAIN_OPTS``). Pure Python, no torch: the DAG layer never
imports torch to guess a device; ``auto`` is resolved inside each job.

    device: cuda            # auto (default: CUDA if the job finds one) | cpu | cuda | mps
    gpu_share: 4            # runs sharing one GPU (tiny models waste a GPU one at a time)
    checkpoint_every: 500   # steps between checkpoints (default 200)
    device_in_identity: true  # opt in: the device becomes part of every run's identity
"""

from __future__ import annotations

from dataclasses import dataclass

DEVICES = ("auto", "cpu", "cuda", "mps")  # what `device` and `ablate train --device` accept
# Keys that change how runs execute and nothing they compute (device_in_identity is not one:
# it changes which runs exist).
EXECUTION_KEYS = ("device", "gpu_share", "checkpoint_every")


@dataclass(frozen=True)
class Execution:
    device: str = "auto"
    gpu_share: int = 1
    checkpoint_every: int | None = None
    device_in_identity: bool = False

    @property
    def gpus(self) -> int:
        """The `gpu` resource of one train job: one unit = one GPU to Slurm. With gpu_share,
        several local jobs run on one GPU: give Snakemake `--resources gpu=<GPUs x share>`."""
        return 1 if self.device == "cuda" else 0

    def train_options(self) -> str:
        """The arguments of ``ablate train`` that say how, not what, to train."""
        opts = f"--device {self.device} --gpu-share {self.gpu_share}"
        if self.checkpoint_every is not None:
            opts += f" --checkpoint-every {self.checkpoint_every}"
        return opts


def execution(config: dict) -> Execution:
    return Execution(
        device=config.get("device", "auto"),
        gpu_share=config.get("gpu_share", 1),
        checkpoint_every=config.get("checkpoint_every"),
        device_in_identity=config.get("device_in_identity", False),
    )


def execution_errors(config: dict) -> list[str]:
    """Value rules the schema cannot state; types and ranges are in the schema."""
    ex = execution(config)
    if ex.device_in_identity and ex.device == "auto":
        return [
            "device_in_identity=true needs an explicit device (cpu, cuda or mps), "
            "not device='auto': the DAG cannot know where 'auto' will land"
        ]
    return []
