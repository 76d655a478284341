"""The coordinate check (train/coordcheck.py, ``ablate coordcheck``): under SP with Adam the
activations grow with width after the first steps; under muP they stay flat."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from ablate.cli import main
from ablate.spec.run_spec import resolve_spec
from ablate.train.coordcheck import COLUMNS, coordcheck, growth

SECTIONS = {
    "model": {"n_layer": 2, "n_head": 4, "context": 32},
    "train": {"lr": 1e-2, "batch_size": 8},
    "data": {"task": "induction", "seq_len": 32},
}
WIDTHS, STEPS = [32, 64, 128, 256], 5


@pytest.fixture(scope="module")
def table():
    return coordcheck(resolve_spec(SECTIONS, 0), WIDTHS, STEPS, log=lambda m: None)


def test_the_table_has_every_site_width_and_step(table):
    assert list(table.columns) == COLUMNS
    sites = {"embedding", "output_logits"} | {
        f"block{i}.{s}" for i in (0, 1) for s in ("attn", "ffn", "attn_logits")
    }
    assert set(table["site"]) == sites
    assert len(table) == 2 * len(WIDTHS) * STEPS * len(sites)
    assert (table["mean_abs"] > 0).all()


def test_at_the_base_width_mup_is_sp(table):
    base = table[table["width"] == WIDTHS[0]]
    sp = base[base["parametrization"] == "sp"].set_index(["step", "site"])["mean_abs"]
    mup = base[base["parametrization"] == "mup"].set_index(["step", "site"])["mean_abs"]
    pd.testing.assert_series_equal(sp, mup)


@pytest.mark.parametrize(
    ("site", "sp_at_least"), [("block1.attn", 8.0), ("block1.ffn", 8.0), ("output_logits", 2.5)]
)
def test_sp_grows_with_width_and_mup_stays_flat(table, site, sp_at_least):
    """Width x8, last step: SP's activations several times larger (measured 22x, 29x, 4.3x),
    muP's within a factor of 4 either way (measured 0.40, 1.15, 0.99)."""
    ratio = growth(table, site, STEPS)
    assert ratio["sp"] > sp_at_least, ratio
    assert 0.25 < ratio["mup"] < 4.0, ratio
    assert ratio["sp"] > 2.5 * ratio["mup"], ratio


def test_the_command_writes_the_table_and_the_chart(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(resolve_spec(SECTIONS, 0).to_dict()))
    out = tmp_path / "cc"
    assert (
        main(["coordcheck", str(spec), "--widths", "32,64", "--steps", "2", "--out", str(out)]) == 0
    )
    table = pd.read_parquet(out / "coordcheck.parquet")
    assert set(table["width"]) == {32, 64} and set(table["step"]) == {1, 2}
    assert "vega" in (out / "coordcheck.html").read_text()
    assert "output_logits" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("widths", "fragment"),
    [("64", "--widths '64'"), ("a,b", "--widths 'a,b'"), ("30,64", "at width 30")],
)
def test_the_command_refuses_bad_widths_naming_them(tmp_path, capsys, widths, fragment):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(resolve_spec(SECTIONS, 0).to_dict()))
    code = main(["coordcheck", str(spec), "--widths", widths, "--out", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert not (tmp_path / "o").exists()
