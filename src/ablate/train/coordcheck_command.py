"""``ablate coordcheck SPEC --widths 64,128,256,512 --steps 5 --out DIR``: the coordinate
check (train/coordcheck.py) of one run spec under SP and muP; writes DIR/coordcheck.parquet
and DIR/coordcheck.html (per site, mean |x| against width, a line per step, SP beside muP:
flat lines mean the activation's size does not depend on width), and prints each site's
growth from the smallest to the largest width at the last step. Torch-free at import: the
``ablate`` command builds its parser from here."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml


def add_coordcheck(sub) -> None:
    """The subcommand, on ``ablate``'s subparsers."""
    k = sub.add_parser("coordcheck", help="muP's coordinate check: activation size vs width")
    k.add_argument("spec", metavar="SPEC", help="a run's spec.yaml")
    k.add_argument("--widths", default="64,128,256,512", help="d_model values, comma-separated")
    k.add_argument("--steps", type=int, default=5, help="training steps at each width")
    k.add_argument("--out", required=True, help="folder for coordcheck.parquet and .html")
    k.add_argument("--root", default=".", help="directory holding resources/")
    k.add_argument("--threads", type=int, default=1)
    k.set_defaults(func=run_coordcheck)


def run_coordcheck(args) -> int:
    from ablate.spec.run_spec import RunSpec, SpecError
    from ablate.store.atomic import write_parquet
    from ablate.train.coordcheck import coordcheck, growth, widened

    try:
        widths = sorted({int(w) for w in args.widths.split(",")})
    except ValueError:
        widths = []
    if len(widths) < 2 or widths[0] < 1:
        print(
            f"ablate coordcheck: --widths {args.widths!r}: give two or more positive widths, "
            "e.g. 64,128,256,512",
            file=sys.stderr,
        )
        return 2
    spec = RunSpec.from_dict(yaml.safe_load(Path(args.spec).read_text()))
    try:
        for width in widths:  # every width must make a model before any trains
            widened(spec, width, "mup", widths[0], args.steps)
    except SpecError as error:  # names the key and the value
        print(f"ablate coordcheck: {args.spec} at width {width}: {error}", file=sys.stderr)
        return 2
    table = coordcheck(spec, widths, args.steps, root=args.root, threads=args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_parquet(out / "coordcheck.parquet", table)
    chart = write_coordcheck_chart(table, out)
    print(f"mean |x| at width {widths[-1]} / width {widths[0]}, step {args.steps}:")
    for site in table["site"].unique():
        ratio = growth(table, site, args.steps)
        print(f"  {site:20s} " + "  ".join(f"{p} {r:7.2f}" for p, r in sorted(ratio.items())))
    print(f"wrote {out / 'coordcheck.parquet'} and {chart}")
    return 0


def coordcheck_chart(table):
    import altair as alt

    data = table.assign(step=table["step"].astype(str))
    steps = sorted(table["step"].unique())
    line = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X(
                "width:Q",
                scale=alt.Scale(type="log", base=2),
                axis=alt.Axis(values=sorted(table["width"].unique().tolist())),
                title="width (d_model)",
            ),
            y=alt.Y("mean_abs:Q", scale=alt.Scale(type="log"), title="mean |x|"),
            color=alt.Color("step:O", sort=[str(s) for s in steps], title="step"),
            tooltip=[
                "parametrization",
                "site",
                "width",
                "step",
                alt.Tooltip("mean_abs", format=".4g"),
            ],
        )
        .properties(width=170, height=120)
    )
    return line.facet(
        row=alt.Row("site:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")),
        column=alt.Column("parametrization:N", title=None),
    )  # one y scale: a row's SP and muP panels compare at a glance


def write_coordcheck_chart(table, out: Path) -> Path:
    chart = coordcheck_chart(table).properties(
        title="Coordinate check: activation size against width (flat = width-independent)"
    )
    path = Path(out) / "coordcheck.html"
    chart.save(str(path), inline=True)  # self-contained: no network needed to view it
    return path
