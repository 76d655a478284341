"""A few samples from a text run's final model: what the loss numbers read like.

At the end of training (after the last step, evaluation and probe), ``N_SAMPLES``
continuations of one fixed prompt, the first ``PROMPT_TOKENS`` tokens of the validation
split, are drawn at temperature ``TEMPERATURE`` for ``NEW_TOKENS`` tokens each and decoded
with the task's tokenizer: the samples table (store/tables.py). The tokens come from a
torch.Generator of their own, seeded with the run's seed, on the CPU (the draws depend on
the logits alone, not on a device's RNG); torch's global RNG, the training's, is never
drawn from, so no number of the run changes. The model is in eval mode meanwhile
(no dropout). Synthetic tasks get no samples: their sequences are not text.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch

PROMPT_TOKENS = 16
NEW_TOKENS = 200
TEMPERATURE = 0.8
N_SAMPLES = 3  # drawn together, as one batch from one generator


@torch.no_grad()
def generate(
    model,
    prompt: torch.Tensor,
    n_new: int,
    temperature: float,
    generator: torch.Generator,
    n_samples: int = 1,
    autocast: Callable = contextlib.nullcontext,
) -> torch.Tensor:
    """(n_samples, <= n_new) new token ids after the 1-D ``prompt``, drawn by ``generator``
    (a CPU generator: the draws do not depend on the device). The window the model sees is
    the last model.cfg.context tokens. Stops early if the logits stop being finite."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    ids = prompt.long().repeat(n_samples, 1).to(device)
    try:
        for _ in range(n_new):
            with autocast():
                logits = model(ids[:, -model.cfg.context :])[:, -1, :]
            logits = logits.float().cpu()
            if not torch.isfinite(logits).all():  # a diverged model: nothing to draw from
                break
            probs = torch.softmax(logits / temperature, dim=-1)
            drawn = torch.multinomial(probs, 1, generator=generator)
            ids = torch.cat([ids, drawn.to(device)], dim=1)
    finally:
        model.train(was_training)
    return ids[:, len(prompt) :].cpu()


def sample_rows(model, task, seed: int, autocast: Callable = contextlib.nullcontext) -> list[dict]:
    """The samples table's rows of a finished run: N_SAMPLES for a text task, none else."""
    if getattr(task, "kind", None) != "text":
        return []
    prompt = task.val[:PROMPT_TOKENS].long()
    generator = torch.Generator().manual_seed(seed)
    new = generate(model, prompt, NEW_TOKENS, TEMPERATURE, generator, N_SAMPLES, autocast)
    text = task.decode(prompt)
    return [
        {
            "prompt": text,
            "text": task.decode(row),
            "temperature": TEMPERATURE,
            "sample_seed": seed,
            "n_tokens": len(row),
        }
        for row in new
    ]
