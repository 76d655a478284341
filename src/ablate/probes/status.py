"""Every run is judged with one status, a reason and the step where it was decided.

The run itself records only what it measured (its tables and summary.json); collect
judges it here with the study's StatusRules (config ``status:``), so a changed rule or
threshold re-judges every run without training any again. Pure Python, no torch.

Checked in order of severity, the first that applies wins:
  diverged   loss became NaN/inf or rose above diverge_factor x its initial value
             (training stopped there: the one decision the loop makes online, recorded
             as summary stopped / stopped_step / stopped_reason)
  oom        the device ran out of memory (training stopped there; a run too large
             for its GPU, not an instability of the variant)
  stalled    never clearly learned: the final training loss is not at least
             stall_fraction below the better of the initial loss and the task's
             context-free baseline (unigram entropy). Post-LN without warmup at high
             learning rates fails exactly this way: no NaN, no spike (REFERENCE.md).
  unstable   more than max_spikes loss spikes
  collapsed  at the last probe, some layer's mean normalised attention entropy is below
             collapse_threshold (every head of the layer attends to ~one key)
  ok         none of the above
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ablate.config import StatusRules
from ablate.probes.spikes import SpikeDetector


@dataclass(frozen=True)
class RunOutcome:
    status: str
    reason: str
    step: int  # -1 when ok


@dataclass(frozen=True)
class Judgement:
    outcome: RunOutcome
    loss_spike: list[bool] = field(default_factory=list)  # one flag per recorded step
    grad_spike: list[bool] = field(default_factory=list)


def spike_flags(values: list[float], rules: StatusRules) -> list[bool]:
    """The spike detector run over a whole series, in step order (as it would run online)."""
    detector = SpikeDetector(rules.spike_window, rules.spike_k)
    return [detector.update(v) for v in values]


def judge(
    summary: dict,
    losses: list[float],
    grad_norms: list[float],
    layer_entropy: list[float],
    probe_step: int,
    rules: StatusRules,
) -> Judgement:
    """A finished run's status from what it measured: its summary.json, its per-step loss
    and grad norm, and the per-layer mean attention entropy at its last probe."""
    loss_spike = spike_flags(losses, rules)
    grad_spike = spike_flags(grad_norms, rules)
    stopped = None  # diverged, or out of memory: training ended there
    if summary["stopped"]:
        stopped = RunOutcome(summary["stopped"], summary["stopped_reason"], summary["stopped_step"])
    outcome = classify(
        diverged=stopped,
        final_train_loss=summary["final_train_loss"],
        initial_loss=summary["initial_loss"],
        baseline_loss=summary["baseline_loss"],
        stall_fraction=rules.stall_fraction,
        steps_done=summary["steps_done"],
        spike_steps=[i + 1 for i, flag in enumerate(loss_spike) if flag],
        max_spikes=rules.max_spikes,
        layer_entropy=[e for e in layer_entropy if math.isfinite(e)],
        collapse_threshold=rules.collapse_threshold,
        probe_step=probe_step,
    )
    return Judgement(outcome, loss_spike, grad_spike)


def classify(
    *,
    diverged: RunOutcome | None,
    final_train_loss: float,
    initial_loss: float,
    baseline_loss: float,
    stall_fraction: float,
    steps_done: int,
    spike_steps: list[int],
    max_spikes: int,
    layer_entropy: list[float],
    collapse_threshold: float,
    probe_step: int,
) -> RunOutcome:
    if diverged is not None:
        return diverged
    reference = min(initial_loss, baseline_loss)
    if final_train_loss > reference * (1 - stall_fraction):
        return RunOutcome(
            "stalled",
            f"final train loss {final_train_loss:.3f} not below {1 - stall_fraction:.2f} x "
            f"min(initial {initial_loss:.3f}, context-free baseline {baseline_loss:.3f})",
            steps_done,
        )
    if len(spike_steps) > max_spikes:
        return RunOutcome(
            "unstable",
            f"{len(spike_steps)} loss spikes (> {max_spikes}), first at step {spike_steps[0]}",
            spike_steps[max_spikes],
        )
    low = [(e, i) for i, e in enumerate(layer_entropy) if e < collapse_threshold]
    if low:
        e, layer = min(low)
        return RunOutcome(
            "collapsed",
            f"layer {layer} mean attention entropy {e:.3f} < {collapse_threshold}",
            probe_step,
        )
    return RunOutcome("ok", "", -1)


def divergence(loss: float, initial_loss: float, factor: float, step: int) -> RunOutcome | None:
    """Online check after every step."""
    if loss != loss or loss in (float("inf"), float("-inf")):
        return RunOutcome("diverged", f"loss is {loss} at step {step}", step)
    if loss > factor * initial_loss:
        return RunOutcome(
            "diverged",
            f"loss {loss:.3f} > {factor:g} x initial loss {initial_loss:.3f} at step {step}",
            step,
        )
    return None
