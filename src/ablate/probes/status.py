"""Every run is judged with one status, a reason and the step where it was decided.

The run itself records only what it measured (its tables and summary.json); collect
judges it here with the study's StatusRules (config ``status:``), so a changed rule or
threshold re-judges every run without training any again. Pure Python, no torch.

Attention collapse has one definition, used here and by the stability score
(analysis/stability.py): at the last probe, a layer is collapsed when EVERY one of its
heads has normalised attention entropy below collapse_threshold (each head attends to ~one
key). One sharp head is not a collapse: previous-token and induction heads are one-hot
when they work.

Checked in order of severity, the first that applies wins:
  diverged   loss became NaN/inf or rose above diverge_factor x its initial value
             (training stopped there: the one decision the loop makes online, recorded
             as summary stopped / stopped_step / stopped_reason)
  oom        the device ran out of memory (training stopped there; a run too large
             for its GPU, not an instability of the variant)
  collapsed  the run did not learn (the stalled test below) and some layer is collapsed:
             the collapse is the likely cause of the stall
  stalled    never clearly learned: the final training loss is not at least
             stall_fraction below the better of the initial loss and the task's
             context-free baseline (unigram entropy). Post-LN without warmup at high
             learning rates fails exactly this way: no NaN, no spike.
  unstable   more than max_spikes loss spikes (probes/spikes.py; a spike must rise at
             least spike_floor nats, so a converged near-zero-loss run is not unstable)
  ok         none of the above. A run that learned with a collapsed layer is ok, with
             the warning in its reason ("warning: layer 0 collapsed ..."): a sharp layer
             in a run that learns is a fact to look at, not a failure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ablate.probes.spikes import SpikeDetector
from ablate.spec.config import StatusRules


@dataclass(frozen=True)
class Status:
    """What a status says about a run beyond its name: the one statement every count, every
    statistic, the stability score, the report's badges and the docs read."""

    failure: bool  # counts as a failure: the failure rate, the failures table, the findings
    final_loss: bool  # its final_val_loss is the loss of a finished run: statistics use it
    learned: bool  # the run learned (a collapsed layer in it is sharp attention, not a failure)
    meaning: str  # one line for the docs and the report


STATUSES: dict[str, Status] = {
    "ok": Status(False, True, True, "none of the failures below"),
    "diverged": Status(True, False, False, "loss became NaN/inf or exploded; training stopped"),
    "stalled": Status(True, True, False, "never clearly beat the initial or unigram loss"),
    "unstable": Status(True, True, True, "more loss spikes than status.max_spikes"),
    "collapsed": Status(True, True, False, "did not learn, with a collapsed attention layer"),
    "oom": Status(True, False, False, "ran out of device memory; training stopped"),
}


def statuses_where(**traits: bool) -> list[str]:
    """The statuses with these traits, e.g. statuses_where(final_loss=True)."""
    return [
        name
        for name, status in STATUSES.items()
        if all(getattr(status, trait) == value for trait, value in traits.items())
    ]


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


@dataclass(frozen=True)
class RunEvidence:
    """What a finished run measured that its status is decided from."""

    stopped: RunOutcome | None  # diverged or out of memory: where training ended
    final_train_loss: float
    initial_loss: float
    baseline_loss: float  # the task's context-free (unigram) loss
    steps_done: int
    spike_steps: list[int]  # steps flagged by the loss spike detector
    head_entropy: dict[int, list[float]]  # layer -> normalised entropy per head, last probe
    probe_step: int  # the step of the last probe


def spike_flags(values: list[float], detector: SpikeDetector) -> list[bool]:
    """The spike detector run over a whole series, in step order (as it would run online)."""
    return [detector.update(v) for v in values]


def collapsed_layers(head_entropy: dict[int, list[float]], threshold: float) -> list[tuple]:
    """(layer, its highest head entropy) for every layer whose heads are all below threshold.
    NaN entropies (no probe) are ignored; a layer with none left is not collapsed."""
    out = []
    for layer, values in sorted(head_entropy.items()):
        finite = [v for v in values if math.isfinite(v)]
        if finite and max(finite) < threshold:
            out.append((layer, max(finite)))
    return out


def last_head_entropy(probes) -> dict[int, list[float]]:
    """layer -> every head's attention entropy at the last probe, from one run's probes table
    (a DataFrame with step, layer, head, metric, value); {} without probes."""
    if len(probes) == 0:
        return {}
    p = probes[(probes["metric"] == "attn_entropy") & (probes["head"] >= 0)]
    p = p[p["step"] == probes["step"].max()].sort_values(["layer", "head"])
    return {int(layer): g["value"].astype(float).tolist() for layer, g in p.groupby("layer")}


def judge(
    summary: dict,
    losses: list[float],
    grad_norms: list[float],
    head_entropy: dict[int, list[float]],
    probe_step: int,
    rules: StatusRules,
) -> Judgement:
    """A finished run's status from what it measured: its summary.json, its per-step loss
    and grad norm, and every head's attention entropy at its last probe, per layer."""
    window, k = rules.spike_window, rules.spike_k
    loss_spike = spike_flags(losses, SpikeDetector(window, k, min_rise=rules.spike_floor))
    grad_spike = spike_flags(grad_norms, SpikeDetector(window, k))
    stopped = None
    if summary["stopped"]:
        stopped = RunOutcome(summary["stopped"], summary["stopped_reason"], summary["stopped_step"])
    evidence = RunEvidence(
        stopped=stopped,
        final_train_loss=summary["final_train_loss"],
        initial_loss=summary["initial_loss"],
        baseline_loss=summary["baseline_loss"],
        steps_done=summary["steps_done"],
        spike_steps=[i + 1 for i, flag in enumerate(loss_spike) if flag],
        head_entropy=head_entropy,
        probe_step=probe_step,
    )
    return Judgement(classify(evidence, rules), loss_spike, grad_spike)


def classify(run: RunEvidence, rules: StatusRules) -> RunOutcome:
    """The module docstring's rules, in its order."""
    if run.stopped is not None:
        return run.stopped
    collapsed = collapsed_layers(run.head_entropy, rules.collapse_threshold)
    where = ", ".join(f"layer {layer} (max head entropy {e:.3f})" for layer, e in collapsed)
    what = f"every head below attention entropy {rules.collapse_threshold} in {where}"
    reference = min(run.initial_loss, run.baseline_loss)
    if run.final_train_loss > reference * (1 - rules.stall_fraction):
        stall = (
            f"final train loss {run.final_train_loss:.3f} not below "
            f"{1 - rules.stall_fraction:.2f} x min(initial {run.initial_loss:.3f}, "
            f"context-free baseline {run.baseline_loss:.3f})"
        )
        if collapsed:
            return RunOutcome("collapsed", f"{what}; {stall}", run.probe_step)
        return RunOutcome("stalled", stall, run.steps_done)
    spikes = run.spike_steps
    if len(spikes) > rules.max_spikes:
        return RunOutcome(
            "unstable",
            f"{len(spikes)} loss spikes (> {rules.max_spikes}), first at step {spikes[0]}",
            spikes[rules.max_spikes],
        )
    return RunOutcome("ok", f"warning: {what}, though the run learned" if collapsed else "", -1)


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
