"""Loss, evaluation on the fixed held-out sets, and the probe-batch diagnostics."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ablate.probes.attention_stats import attention_rows, massive_ratio, probe_row, sink_mass
from ablate.probes.gradients import update_ratios


def masked_loss(
    logits: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, z_loss: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy over the scored positions (mask), plus the optional z-loss.

    Returns (loss to optimise, cross-entropy alone): the metrics record the cross-entropy,
    so runs with and without z-loss stay comparable.
    """
    logits = logits.float()
    nll = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none").view_as(y)
    weight = mask.to(nll.dtype)
    n = weight.sum().clamp_min(1)
    ce = (nll * weight).sum() / n
    if z_loss == 0:
        return ce, ce
    log_z = torch.logsumexp(logits, dim=-1)
    return ce + z_loss * ((log_z**2) * weight).sum() / n, ce


@torch.no_grad()
def evaluate(model, eval_sets, step: int, chars_per_token: float, autocast) -> list[dict]:
    """One row per eval set (tables.TABLES['evals'])."""
    model.eval()
    rows = []
    for es in eval_sets:
        row = {"step": step, "split": "val", "seq_len": es.seq_len, "note": es.note}
        if not model.supports_length(es.seq_len):
            rows.append(
                row
                | {
                    "loss": math.nan,
                    "bpc": math.nan,
                    "token_acc": math.nan,
                    "seq_acc": math.nan,
                    "note": f"skipped: the positional encoding cannot go beyond "
                    f"model.context={model.cfg.context} tokens",
                }
            )
            continue
        nll_sum = correct = scored = seq_ok = seqs = 0.0
        for x, y, mask in es.batches:
            with autocast():
                logits = model(x)
            nll = F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), reduction="none")
            m = mask.flatten()
            nll_sum += float(nll[m].sum())
            hit = (logits.argmax(-1) == y) | ~mask
            correct += float((hit & mask).sum())
            scored += float(mask.sum())
            seq_ok += float(hit.all(-1).sum())
            seqs += x.shape[0]
        loss = nll_sum / max(scored, 1)
        rows.append(
            row
            | {
                "loss": loss,
                "bpc": loss / math.log(2) / chars_per_token if chars_per_token else math.nan,
                "token_acc": correct / max(scored, 1),
                "seq_acc": seq_ok / max(seqs, 1),
            }
        )
    model.train()
    return rows


@torch.no_grad()
def probe(model, batch, step, snapshot, steps_since, autocast, sinks: bool = True):
    """Diagnostics on the fixed probe batch. Returns (probe rows, the attention capture).

    Uses the model's explicit-softmax capture path; training steps never pay for it. With
    ``sinks`` (probes.sinks) also each head's sink mass and each layer's massive-activation
    ratio, read from the same capture.
    """
    model.eval()
    capture: dict = {}
    with autocast():
        logits = model(batch, capture=capture)
    model.train()
    rows = attention_rows(capture, step)
    for layer, resid in enumerate(capture["resid"]):
        rms = float(resid.float().pow(2).mean().sqrt())
        rows.append(probe_row(step, layer, -1, "resid_rms", rms))
        if sinks:
            rows.append(probe_row(step, layer, -1, "massive_ratio", massive_ratio(resid)))
    if sinks:  # and what uniform attention over the visible keys would put on key 0
        visible = capture["visible"].float()
        uniform = float((visible[1:, 0] / visible[1:].sum(-1)).mean()) if len(visible) > 1 else 0
        rows.append(probe_row(step, -1, -1, "sink_uniform", uniform))
        for layer, probs in enumerate(capture["attn_probs"]):
            for head, mass in enumerate(sink_mass(probs).tolist()):
                rows.append(probe_row(step, layer, head, "sink_mass", mass))
    if snapshot is not None:
        for layer, ratio in enumerate(update_ratios(model, snapshot, steps_since)):
            rows.append(probe_row(step, layer, -1, "update_ratio", ratio))
    logits = logits.float()
    rows.append(probe_row(step, -1, -1, "out_logit_max", float(logits.abs().max())))
    rows.append(probe_row(step, -1, -1, "out_log_z", float(torch.logsumexp(logits, -1).mean())))
    return rows, capture
