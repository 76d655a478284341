"""The gradient noise scale B_simple = tr(Σ) / |G|² (McCandlish et al. 2018, "An Empirical
Model of Large-Batch Training", Appendix A), from gradients of two batch sizes.

With G the true gradient and Σ the per-example gradient covariance, a batch of B examples
has E|G_B|² = |G|² + tr(Σ)/B. Two sizes b < B give unbiased estimates of both terms:

    |G|²    ≈ (B |G_B|² − b |G_b|²) / (B − b)
    tr(Σ)   ≈ (|G_b|² − |G_B|²) / (1/b − 1/B)

Here G_B is the whole training batch's gradient and |G_b|² the mean squared norm of its
micro-batches' gradients. One probe's estimates are noisy (either can come out negative),
so, as the paper does, the two are smoothed separately across probes (an exponential
moving average) and B_simple is their ratio. It estimates the critical batch size: well
below it, a larger batch trains about as well per step as a proportionally longer run;
well above it, extra examples per step are wasted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def noise_estimates(
    small_sq: float, big_sq: float, b_small: int, b_big: int
) -> tuple[float, float]:
    """(|G|² estimate, tr(Σ) estimate) from mean squared micro-batch and batch gradient norms."""
    if not b_small < b_big:
        raise ValueError(f"need b_small < b_big, got {b_small} and {b_big}")
    g2 = (b_big * big_sq - b_small * small_sq) / (b_big - b_small)
    trace = (small_sq - big_sq) / (1.0 / b_small - 1.0 / b_big)
    return g2, trace


@dataclass
class NoiseScale:
    """B_simple smoothed across probes: each estimate into its own moving average."""

    decay: float = 0.9  # weight of the previous average
    g2: float = math.nan
    trace: float = math.nan

    def update(self, small_sq: float, big_sq: float, b_small: int, b_big: int) -> float:
        g2, trace = noise_estimates(small_sq, big_sq, b_small, b_big)
        if math.isnan(self.g2):
            self.g2, self.trace = g2, trace
        else:
            self.g2 = self.decay * self.g2 + (1 - self.decay) * g2
            self.trace = self.decay * self.trace + (1 - self.decay) * trace
        return self.value

    @property
    def value(self) -> float:
        """tr(Σ)/|G|²; NaN while the smoothed |G|² is not positive."""
        return self.trace / self.g2 if self.g2 > 0 else math.nan
