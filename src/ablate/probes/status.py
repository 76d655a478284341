"""Every run ends with one status, a reason and the step where it was decided.

Checked in order of severity, the first that applies wins:
  diverged   loss became NaN/inf or rose above diverge_factor x its initial value
             (training stopped there; decided online by the loop)
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

from dataclasses import dataclass


@dataclass(frozen=True)
class RunOutcome:
    status: str
    reason: str
    step: int  # -1 when ok


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
