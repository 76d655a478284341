"""Progress while a run trains: a tqdm bar on a terminal, plain log lines otherwise."""

from __future__ import annotations

import sys


def progress_logger(total: int, start: int = 0):
    """A tqdm bar on a terminal, plain log lines (about 20 per run) otherwise."""
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=total, initial=start, unit="step", dynamic_ncols=True)

        def update(step, loss, lr, gnorm, log):
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}", lr=f"{lr:.1e}", gnorm=f"{gnorm:.2f}")
            if step == total:
                bar.close()

        return update
    every = max(1, total // 20)

    def line(step, loss, lr, gnorm, log):
        if step % every == 0 or step == 1 or step == total:
            log(f"step {step}/{total} loss {loss:.4f} lr {lr:.2e} grad_norm {gnorm:.3f}")

    return line
