"""The report's samples: what each variant's final model writes, for a text task.

One sample per variant: the first of its run with the lowest seed, in the leaderboard's
order, beside the prompt it continues, the temperature and the generator's seed it was
drawn with (tables.TABLES['samples'], written by train/sampling.py). The text is the
model's own: the templates escape it (autoescape on), and keep its line breaks (CSS).
"""

from __future__ import annotations

from ablate.analysis.ranking import display_order
from ablate.report.leaderboard import table_block
from ablate.report.page import note
from ablate.report.panels import Ctx

COLUMNS = {
    "variant": "variant",
    "seed": "the study seed of the run (the variant's lowest)",
    "temperature": "softmax temperature the tokens were drawn at",
    "sample_seed": "seed of the torch.Generator that drew the tokens (the run's seed)",
    "n_tokens": "tokens sampled after the prompt",
    "prompt": "the prompt: the first tokens of the validation split",
    "text": "the sampled continuation (prompt excluded)",
}
FORMATS = {"temperature": "g", "seed": ".0f", "sample_seed": ".0f", "n_tokens": ".0f"}


def samples_section(c: Ctx) -> list[dict]:
    samples = c.t["samples"]
    if samples.empty:
        return [
            note(
                "No samples for this task: runs draw them on text tasks only "
                "(shakespeare_char, canterbury, text_file), and runs trained before the lab "
                "kept samples have none.",
                "empty",
            )
        ]
    first = samples.sort_values("seed", kind="stable").drop_duplicates("variant")
    first = first.set_index("variant").loc[_variant_order(c, first["variant"])].reset_index()
    temperatures = ", ".join(f"{t:g}" for t in sorted(first["temperature"].unique()))
    block = table_block(first, COLUMNS, FORMATS, wrap=frozenset({"prompt", "text"}))
    block["cls"] += " samples"  # report.css: these cells keep the text's line breaks
    return [
        note(
            f"One sample per variant, the first of its run with the lowest seed: tokens "
            f"drawn at temperature {temperatures} after the prompt shown, by a generator "
            "seeded with the run's seed, so retraining the run gives the same text."
        ),
        block,
    ]


def _variant_order(c: Ctx, variants) -> list[str]:
    """The leaderboard's order, then any variant it does not list, by name."""
    present = set(variants)
    board = c.t["leaderboard"]
    ranked = [v for v in display_order(board)["variant"] if v in present] if len(board) else []
    return ranked + sorted(present - set(ranked))
