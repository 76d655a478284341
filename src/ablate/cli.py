"""The ``ablate`` command: one subcommand per pipeline stage.

    ablate train   --spec SPEC.yaml --out DIR [--threads N]   one run (resumes if killed)
    ablate sanity  --spec SPEC.yaml                            overfit one batch, fail loudly
    ablate fetch   NAME --out DIR                              a corpus into resources/
    ablate expand  CONFIG                                      list the runs a study asks for
    ablate estimate CONFIG [--cores N] [--json]                its wall time here, before training
    ablate references --spec SPEC.yaml --out FILE.parquet      a task's n-gram/chance losses
    ablate collect --manifest M --runs DIR --out DIR           per-run -> study tables
    ablate choose  --manifest M --runs DIR --out FILE.json     a tuned study's chosen values
    ablate analyse --study-dir DIR [--references DIR]          study tables -> analysis tables
    ablate report  --study-dir DIR --out HTML                  analysis -> HTML report
    ablate tensorboard STUDY_DIR --out DIR                     study tables -> TensorBoard runs
    ablate coordcheck SPEC.yaml --widths 64,...,512 --out DIR  muP's coordinate check

Heavy imports (torch, pandas) happen inside each subcommand, so ``ablate expand`` is fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from ablate.study.execution import DEVICES  # torch-free: the CLI stays fast to start
from ablate.train.coordcheck_command import add_coordcheck  # torch-free too


def _load_spec(path: str):
    """A spec.yaml (RunSpec.to_dict(), written by the workflow) as a checked RunSpec."""
    from ablate.spec.run_spec import RunSpec, check_spec

    return check_spec(RunSpec.from_dict(yaml.safe_load(Path(path).read_text())))


def cmd_train(args) -> int:
    from ablate.train.device import DeviceUnavailable
    from ablate.train.interrupt import Interrupted
    from ablate.train.lock import RunLocked
    from ablate.train.loop import train_run

    spec = _load_spec(args.spec)
    try:
        train_run(
            spec,
            args.out,
            threads=args.threads,
            root=args.root,
            log=_log,
            checkpoint_every=args.checkpoint_every,
            device=args.device,
            gpu_share=args.gpu_share,
        )
    except DeviceUnavailable as err:
        print(f"ablate train: {err}", file=sys.stderr)
        return 2
    except RunLocked as err:
        print(f"ablate train: {err}", file=sys.stderr)
        return 75  # EX_TEMPFAIL: try again once the other trainer is done
    except Interrupted as err:
        _log(f"interrupted: {err}; rerun the same command to resume")
        return 128 + err.signum  # the shell's convention for "killed by this signal"
    return 0


def cmd_sanity(args) -> int:
    from ablate.train.sanity import overfit_one_batch

    result = overfit_one_batch(_load_spec(args.spec), steps=args.steps, root=args.root)
    _log(result.message)
    return 0 if result.ok else 1


def cmd_fetch(args) -> int:
    from ablate.data.fetch import fetch_corpus

    fetch_corpus(args.name, args.out)
    return 0


def cmd_expand(args) -> int:
    from ablate.study.expand import ConfigError, expand_study, load_config

    try:
        runs = expand_study(load_config(args.config))
    except ConfigError as e:
        print(e, file=sys.stderr)
        return 2
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:  # no file, not text, not YAML
        print(f"cannot read the config {args.config}: {e}", file=sys.stderr)
        return 2
    for r in runs:
        print(f"{r.run_id}  {r.task:18s} {r.variant:40s} seed={r.seed}")
    print(f"{len(runs)} runs, {len({r.run_id for r in runs})} unique", file=sys.stderr)
    return 0


def cmd_estimate(args) -> int:
    from ablate.estimate.command import run_estimate

    return run_estimate(args)


def cmd_references(args) -> int:
    from ablate.data.references import write_references

    write_references(args.spec, args.out, args.root, _log)
    return 0


def cmd_collect(args) -> int:
    from ablate.store.collect import collect_study
    from ablate.store.integrity import RunDirError

    try:
        collect_study(args.manifest, args.runs, args.out)
    except RunDirError as error:  # a damaged run: say which and how to redo it, no traceback
        print(f"ablate collect: {error}", file=sys.stderr)
        return 1
    return 0


def cmd_choose(args) -> int:
    from ablate.analysis.tuning_choice import choose_study

    choice = choose_study(args.manifest, args.runs, args.out)
    for c in choice["choices"]:
        point = ", ".join(f"{k}={v}" for k, v in c["point"].items())
        print(f"{c['task']}/{c['variant']}: {point}")
    return 0


def cmd_analyse(args) -> int:
    from ablate.analysis.analyse import analyse_study

    analyse_study(args.study_dir, args.references)
    return 0


def cmd_report(args) -> int:
    from ablate.report.write import write_report

    write_report(args.study_dir, args.out)
    return 0


def cmd_tensorboard(args) -> int:
    from ablate.analysis.load import StudyError
    from ablate.report.tensorboard_export import MissingExtra, export_tensorboard

    try:
        folders = export_tensorboard(args.study_dir, args.out)
    except (MissingExtra, StudyError) as error:  # no extra, or no study: say so, no traceback
        print(f"ablate tensorboard: {error}", file=sys.stderr)
        return 1
    _log(f"{len(folders)} runs written to {args.out}; view them: tensorboard --logdir {args.out}")
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _log(message: str) -> None:
    print(message, flush=True)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ablate", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train one run")
    t.add_argument("--spec", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--root", default=".", help="directory holding resources/")
    t.add_argument(
        "--checkpoint-every",
        type=_positive_int,
        default=None,
        help="steps between checkpoints (default 200; a killed run resumes from the last one)",
    )
    t.add_argument(
        "--device",
        choices=DEVICES,
        default="auto",
        help="where to train (auto: CUDA when available, else CPU); not part of the run's id",
    )
    t.add_argument(
        "--gpu-share",
        type=_positive_int,
        default=1,
        help="runs that may share one GPU (each takes a slot: GPU = slot mod number of GPUs)",
    )
    t.set_defaults(func=cmd_train)
    s = sub.add_parser("sanity", help="overfit one batch; exit 1 if the loss does not approach 0")
    s.add_argument("--spec", required=True)
    s.add_argument("--steps", type=int, default=300)
    s.add_argument("--root", default=".")
    s.set_defaults(func=cmd_sanity)
    f = sub.add_parser("fetch", help="fetch and verify a corpus")
    f.add_argument("name")
    f.add_argument("--out", required=True)
    f.set_defaults(func=cmd_fetch)
    e = sub.add_parser("expand", help="list the runs of a study config")
    e.add_argument("config")
    e.set_defaults(func=cmd_expand)
    m = sub.add_parser("estimate", help="predict a study's wall time on this machine")
    m.add_argument("config")
    m.add_argument("--cores", type=_positive_int, default=4, help="as `snakemake --cores N`")
    m.add_argument("--json", action="store_true", help="print the estimate as JSON")
    m.add_argument(
        "--cached-by",
        choices=("snakemake", "files"),
        default="snakemake",
        help="ask Snakemake which runs it would train (a dry run), or check run files",
    )
    m.add_argument("--recalibrate", action="store_true", help="measure this machine again")
    m.add_argument("--out", help="also write the JSON here")
    m.set_defaults(func=cmd_estimate)
    n = sub.add_parser("references", help="a task's reference losses (n-gram models, chance)")
    n.add_argument("--spec", required=True, help="a run's spec.yaml: its data and eval set")
    n.add_argument("--out", required=True, help="the Parquet file to write")
    n.add_argument("--root", default=".", help="directory holding resources/")
    n.set_defaults(func=cmd_references)
    c = sub.add_parser("collect", help="gather run tables into study tables")
    c.add_argument("--manifest", required=True)
    c.add_argument("--runs", required=True)
    c.add_argument("--out", required=True)
    c.set_defaults(func=cmd_collect)
    h = sub.add_parser("choose", help="a tuned study's choice of each variant's values")
    h.add_argument("--manifest", required=True, help="the tuning manifest (tuning runs)")
    h.add_argument("--runs", required=True)
    h.add_argument("--out", required=True, help="the choice, JSON")
    h.set_defaults(func=cmd_choose)
    a = sub.add_parser("analyse", help="analyse a study's tables")
    a.add_argument("--study-dir", required=True)
    a.add_argument(
        "--references", default=None, help="the reference files (default results/references/)"
    )
    a.set_defaults(func=cmd_analyse)
    r = sub.add_parser("report", help="render a study's HTML report")
    r.add_argument("--study-dir", required=True)
    r.add_argument("--out", required=True)
    r.set_defaults(func=cmd_report)
    b = sub.add_parser("tensorboard", help="write a study's per-step scalars for TensorBoard")
    b.add_argument("study_dir", metavar="STUDY_DIR", help="results/<study>/")
    b.add_argument("--out", required=True, help="TensorBoard's --logdir (its run folders replaced)")
    b.set_defaults(func=cmd_tensorboard)
    add_coordcheck(sub)
    return p


# Commands that import torch or the table libraries: the `ablate` program hands them to a
# warm server that has imported those once (ablate.launch), else runs them here.
WARM_COMMANDS = tuple(
    [
        "train",
        "sanity",
        "references",
        "collect",
        "choose",
        "analyse",
        "report",
        "tensorboard",
        "coordcheck",
    ]
)


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # the program, not a call from Python
        argv = sys.argv[1:]
        if argv[:1] and argv[0] in WARM_COMMANDS:
            from ablate.launch.client import run_warm

            code = run_warm("ablate", argv)
            if code is not None:
                return code
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
