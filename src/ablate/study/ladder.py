"""A study's ``scaling:`` section: a size ladder for some variants. Pure Python, no torch.

    scaling:
      model.d_model: [32, 48, 64, 96, 128]     # one size key; or several, zipped rung by rung
      variants: [baseline, "pos=rope"]         # patterns as in tasks.<t>.variants

Each listed variant trains at every rung x every seed of the study. The rung equal to the
variant's own value is the variant's run itself, not a second one. A rung's runs are named
``<variant>@<key>=<value>`` (group ``ladder``); they are measurements of how the variant
scales (analysis/scaling_variants.py), not variants of the comparison: the leaderboard,
the paired differences and the other statistics leave them out (runs.parquet: ``rung``).

In a tuned study (study/tuning.py) each rung of a tuned variant is tuned on its own, its
tuning runs named by the rung (a wider model wants another learning rate under SP), unless
``transfer: true`` says the variant's chosen values hold on every rung (muP's promise);
then the rungs train at those values, after the variant's tuning.
"""

from __future__ import annotations

from dataclasses import dataclass

from ablate.study.tuning import numeric

OPTIONS = ("variants", "transfer")
MIN_RUNGS = 3  # a slope over fewer sizes says nothing (analysis/scaling_variants.py)


@dataclass(frozen=True)
class Ladder:
    keys: dict[str, list]  # dotted key -> its value at each rung
    variants: list[str]
    # With tune: False, each rung of a tuned variant is tuned like a variant of its own (its
    # tuning runs are named by the rung); True, every rung runs at the variant's chosen
    # values (they transfer across sizes: what muP promises for the learning rate).
    transfer: bool = False

    def rungs(self) -> list[dict]:
        """Each rung as {dotted key: value}, in the config's order."""
        n = len(next(iter(self.keys.values())))
        return [{k: v[i] for k, v in self.keys.items()} for i in range(n)]


def ladder_of(config: dict) -> Ladder | None:
    section = config.get("scaling")
    if not section:
        return None
    keys = {k: list(v) for k, v in section.items() if k not in OPTIONS}
    variants = list(section.get("variants") or ["baseline"])
    return Ladder(keys, variants, bool(section.get("transfer", False)))


def rung_name(variant: str, rung: dict) -> str:
    return f"{variant}@" + ",".join(f"{k.split('.', 1)[1]}={v:g}" for k, v in rung.items())


def ladder_errors(config: dict, variants, selected) -> list[str]:
    """Every problem of the ``scaling`` section, each naming its key and value (a rung's own
    constraints are checked when it is expanded, with the rung named)."""
    ladder = ladder_of(config)
    if ladder is None:
        return []
    errors = []
    if not ladder.keys:
        errors.append("scaling: names no size key; e.g. scaling: {model.d_model: [32, 64, 128]}")
    lengths = {k: len(v) for k, v in ladder.keys.items()}
    for key, values in ladder.keys.items():
        if not key.startswith("model.") or not numeric(key):
            errors.append(f"scaling.{key}: a ladder steps numeric model keys (model.d_model, ...)")
        if len(values) < MIN_RUNGS:
            errors.append(f"scaling.{key}={values!r}: a ladder needs at least {MIN_RUNGS} rungs")
    if len(set(lengths.values())) > 1:
        errors.append(f"scaling: zipped keys need equally many rungs, got {lengths}")
    names = ", ".join(v.name for v in variants)
    for pattern in ladder.variants:
        if not any(selected(v, [pattern]) for v in variants):
            errors.append(
                f"scaling.variants: {pattern!r} matches no variant or group; variants: {names}"
            )
    for v in variants:
        if selected(v, ladder.variants):
            for key in ladder.keys:
                if key in v.overrides:
                    errors.append(
                        f"scaling.{key}: variant {v.name!r} sets {key} itself; its ladder "
                        "would replace it: leave the variant out of scaling.variants"
                    )
    tuned = (config.get("tune") or {}).keys()
    for key in ladder.keys:
        if key in tuned:
            errors.append(f"scaling.{key}: also tuned (tune.{key}); a ladder's key is not tuned")
    if "transfer" in config["scaling"] and not config.get("tune"):
        errors.append(
            f"scaling.transfer={config['scaling']['transfer']!r}: only read in a tuned study "
            "(it says whether the rungs use their variant's tuned values); add tune: or drop it"
        )
    return errors
