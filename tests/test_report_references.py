"""The references in the analysis and the report: the table gathered from the reference
files, the findings sentence, and the loss charts' rules and zoom."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fake_references import TEXT, write_references
from fake_study import default_runs, write_study

from ablate.analysis.analyse import COLUMNS, analyse_study
from ablate.analysis.load import StudyError
from ablate.report.charts_curves import FULL, curve_chart, zoom_domain
from ablate.report.panels import Panel
from ablate.report.reference_findings import reference_sentences, variant_references


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    root = tmp_path_factory.mktemp("refs")
    runs = default_runs(seeds=range(2), steps=60)
    study = write_study(root / "fake", runs)
    keys = write_references(study, runs)
    return study, keys, analyse_study(study)


def test_the_analysis_gathers_the_reference_files_the_study_lists(analysed):
    study, keys, tables = analysed
    refs = pd.read_parquet(study / "analysis" / "references.parquet")
    assert list(refs.columns) == COLUMNS["references"]
    text = refs[refs["task"] == "shakespeare_char"]
    assert dict(zip(text["reference"], text["val_loss"], strict=True)) == TEXT
    assert set(text["data_key"]) == {keys["shakespeare_char"]}
    assert "baseline" in list(text["variants"].iloc[0])


def test_a_missing_reference_file_is_named_and_an_old_study_has_none(analysed, tmp_path):
    study, keys, _ = analysed
    meta = json.loads((study / "study.json").read_text())
    with pytest.raises(StudyError, match="ablate references"):
        analyse_study(study, references_dir=tmp_path)
    meta.pop("references")
    (study / "study.json").write_text(json.dumps(meta))
    try:
        refs = analyse_study(study)["references"]
    finally:
        write_references(study, default_runs(seeds=range(2), steps=60))
    assert refs.empty and list(refs.columns) == COLUMNS["references"]


def board(**losses) -> pd.DataFrame:
    return pd.DataFrame({"variant": list(losses), "val_loss_mean": list(losses.values())})


def refs_frame(values: dict, variants=("baseline",), key="k") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "task": "t",
            "data_key": key,
            "variants": [list(variants)] * len(values),
            "reference": list(values),
            "seq_len": 64,
            "val_loss": list(values.values()),
            "method": "m",
        }
    )


def test_the_sentence_places_the_baseline_and_the_lowest_among_the_references():
    refs = refs_frame(TEXT)
    lb = board(baseline=2.51, **{"pos=rope": 1.90})
    assert reference_sentences(lb, refs, "baseline") == [
        "Against the references, baseline (2.51 nats) lies between the bigram (2.55) and "
        "trigram (2.02) models; the lowest mean val loss, pos=rope (1.90), between the "
        "trigram and 4-gram models."
    ]
    (only,) = reference_sentences(board(baseline=1.2, x=3.5), refs, "baseline")
    assert "below every reference, the 5-gram model (1.56) included" in only
    (worse,) = reference_sentences(board(baseline=3.6), refs, "baseline")
    assert "at or above every reference, even the unigram model (3.34)" in worse
    synthetic = refs_frame({"unigram": np.log(32), "chance": np.log(32), "best": 0.0})
    (s,) = reference_sentences(board(baseline=0.8), synthetic, "baseline")
    assert s == (
        "Against the references, baseline (0.80 nats) lies between the chance (3.47) and "
        "the best possible loss (0.00)."
    )
    assert reference_sentences(board(baseline=2.0), refs.iloc[:0], "baseline") == []


def test_the_references_drawn_are_those_of_the_reference_variants_data_config():
    refs = pd.concat(
        [refs_frame({"bigram": 2.5}, ["seq_len=16"], "a"), refs_frame({"bigram": 2.4}, key="b")]
    )
    refs.loc[refs.index[-1:], "seq_len"] = 64
    assert variant_references(refs, "baseline")["val_loss"].tolist() == [2.4]
    assert variant_references(refs, "seq_len=16")["val_loss"].tolist() == [2.5]


def band() -> pd.DataFrame:
    steps = np.arange(1, 101)
    mean = 2.3 + 2 * np.exp(-steps / 40)  # from 4.25 down to 2.87 (step 50) and 2.57
    return pd.DataFrame(
        {"variant": "baseline", "step": steps, "mean": mean, "lo": mean - 0.02,
         "hi": mean + 0.02, "n_seeds": 2}
    )  # fmt: skip


def loss_chart(**options) -> dict:
    panel = [Panel("base", ("baseline",))]
    return curve_chart(band(), panel, {"baseline": "#000"}, "t", "loss", **options).to_dict()


def marks(spec: dict) -> list[dict]:
    return [layer for panel in spec["concat"] for layer in panel["layer"]]


def test_loss_charts_draw_the_references_and_open_zoomed():
    spec = loss_chart(y_max=4.6, references=refs_frame(TEXT))
    rules = [m for m in marks(spec) if m["mark"]["type"] == "rule"]
    labels = [m for m in marks(spec) if m["mark"]["type"] == "text"]
    assert rules and labels and all(m["mark"]["strokeDash"] for m in rules)
    data = spec["datasets"][rules[0]["data"]["name"]]
    assert {row["label"] for row in data} == {f"{k} {v:.2f}" for k, v in TEXT.items()}
    (param,) = spec["params"]
    assert param["name"] == FULL and param["bind"]["input"] == "checkbox"
    (scale,) = {
        json.dumps(m["encoding"]["y"]["scale"]) for m in marks(spec) if "y" in m["encoding"]
    }
    lo, hi = [float(d["expr"].split(":")[1]) for d in json.loads(scale)["domain"]]  # zoomed
    full_lo, full_hi = [
        float(d["expr"].split("?")[1].split(":")[0]) for d in json.loads(scale)["domain"]
    ]
    # zoomed: the last half of training (2.55..2.89) down to the nearest reference below it
    assert TEXT["trigram"] - 0.1 < lo < TEXT["trigram"] and 2.89 < hi < 3.0
    assert full_lo == TEXT["5-gram"] and full_hi == pytest.approx(4.25 + 0.02, abs=0.01)


@pytest.mark.parametrize("full", [False, True])
def test_both_ranges_render_offline_and_show_their_references(full):
    import vl_convert

    spec = loss_chart(y_max=4.6, references=refs_frame(TEXT))
    spec["params"][0]["value"] = full
    svg = vl_convert.vegalite_to_svg(spec)
    shown = {name for name, value in TEXT.items() if f"{name} {value:.2f}" in svg}
    assert shown == (set(TEXT) if full else {"bigram", "trigram"})


def test_charts_of_something_else_have_no_rules_and_no_checkbox():
    spec = loss_chart(log_y=True)  # a gradient-norm chart: no references given
    assert "params" not in spec and all(m["mark"]["type"] != "rule" for m in marks(spec))


def test_a_reference_just_above_the_runs_joins_the_zoomed_range():
    """Runs stuck just below chance (3.47): its rule stays in view, as does best (0)."""
    stuck = band().assign(lo=3.1, hi=3.3, mean=3.2)
    stuck.loc[:10, "hi"] = 4.0  # the start, outside the zoom
    refs = refs_frame({"chance": np.log(32), "best": 0.0})
    lo, hi = zoom_domain(stuck, (0.0, 4.0), refs)
    assert lo == 0.0 and np.log(32) < hi < 3.7
