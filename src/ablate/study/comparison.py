"""Before a tuned study's choice: the comparison runs it will train, as candidates (one
per grid point), for the estimate, which prices each at its costliest. Pure Python."""

from __future__ import annotations

from ablate.spec.stages import COMPARE, TUNE
from ablate.study.expand import Run, expand_study
from ablate.study.tuning import tuning_of


def comparison_candidates(config: dict) -> list[list[Run]]:
    """Before a tuned study's choice: each comparison run of a tuned variant as the runs it
    could be, one per grid point (for the estimate, which prices it at the costliest)."""
    tuning = tuning_of(config)
    if tuning is None:
        return []
    by_point = []
    for point in tuning.points():
        choice = _every_variant_at(config, point)
        by_point.append(
            [r for r in expand_study(config, choice=choice) if r.tuned and r.stage == COMPARE]
        )
    return [list(candidates) for candidates in zip(*by_point, strict=True)]


def _every_variant_at(config: dict, point: dict) -> dict:
    """A choice of ``point`` for every tuned (task, variant) and tuned rung of a ladder."""
    return {(r.task, r.variant): point for r in expand_study(config) if r.stage == TUNE}
