"""One attempt at training a run directory: what it trains, where, and how far it has come.

An attempt starts fresh or from the run's checkpoint and ends finished, stopped early
(diverged, out of memory) or interrupted. What it holds besides the model (the records so
far, the probe snapshot and the counters in ``Progress``) is exactly what a checkpoint
saves, so a resumed attempt goes on as if it had never stopped (train/checkpoint.py).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ablate.probes.gradients import layer_snapshot
from ablate.spec.config import TrainConfig
from ablate.spec.run_spec import RunSpec
from ablate.train.checkpoint import save_checkpoint
from ablate.train.evaluate import evaluate, probe
from ablate.train.instruments import Instruments
from ablate.train.outputs import Recorder


@dataclasses.dataclass
class Progress:
    """The loop's counters: with the model, optimizer, RNG and records, all a resume needs."""

    step: int = 0  # last completed step
    initial_loss: float = math.nan
    tokens: int = 0
    train_s: float = 0.0  # seconds inside training steps (for tokens/s)
    elapsed_s: float = 0.0  # wall seconds of earlier attempts (time_s continues from here)
    last_probe: int = 0
    resumed_at: list[int] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Attempt:
    spec: RunSpec
    out: Path
    t: TrainConfig
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    task: Any  # data.task.Task
    autocast: Callable
    device: torch.device
    eval_sets: list
    probe_batch: torch.Tensor
    identity: dict  # the checkpoint's identity (checkpoint.identity)
    started: float  # time.perf_counter() when this attempt began
    records: Recorder = dataclasses.field(default_factory=Recorder)
    progress: Progress = dataclasses.field(default_factory=Progress)
    snapshot: dict | None = None  # parameters at the last probe (for update ratios)
    instruments: Instruments | None = None  # the study's probes: (train/instruments.py)

    def __post_init__(self):
        if self.instruments is None:
            self.instruments = Instruments(
                self.spec, self.model, self.optimizer, self.task, self.autocast
            )

    def elapsed(self) -> float:
        """Wall seconds of the run so far, earlier attempts included."""
        return self.progress.elapsed_s + time.perf_counter() - self.started

    def evaluate(self, step: int) -> None:
        rows = evaluate(self.model, self.eval_sets, step, self.task.chars_per_token, self.autocast)
        self.records.add("evals", rows)

    def probe(self, step: int) -> dict:
        """Record the probes at ``step``; returns the attention capture (for attn_maps)."""
        since = step - self.progress.last_probe
        rows, capture = probe(
            self.model,
            self.probe_batch,
            step,
            self.snapshot,
            since,
            self.autocast,
            self.spec.probes.sinks,
        )
        self.records.add("probes", rows)
        self.records.add("curvature", self.instruments.measure(step))
        self.snapshot, self.progress.last_probe = layer_snapshot(self.model), step
        return capture

    def checkpoint(self) -> None:
        progress = dataclasses.replace(self.progress, elapsed_s=self.elapsed())
        state = {
            "identity": self.identity,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": torch.get_rng_state(),
            "records": self.records.columns,
            "snapshot": self.snapshot,
            "instruments": self.instruments.state(),
            "progress": dataclasses.asdict(progress),
        }
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state()
        save_checkpoint(self.out, state)

    def resume(self, saved: dict) -> None:
        """Go on from a checkpoint that checkpoint.load_checkpoint accepted."""
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        torch.set_rng_state(saved["rng"])
        if self.device.type == "cuda":
            torch.cuda.set_rng_state(saved["cuda_rng"])
        self.records, self.snapshot = Recorder(saved["records"]), saved["snapshot"]
        self.instruments.load(saved.get("instruments"))
        self.progress = Progress(**saved["progress"])
        self.progress.resumed_at.append(self.progress.step)
