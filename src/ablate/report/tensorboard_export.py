"""A study's per-step scalars as TensorBoard event files, one TensorBoard run per study run.

    ablate tensorboard results/ablations --out tb      # needs pip install -e '.[tensorboard]'
    tensorboard --logdir tb

Reads only the study tables (runs, steps, evals, grads, probes); nothing retrains. Each run
goes to DIR/<task>/<variant>/seed=<seed>/, every name percent-encoded (``safe_name``) so a
variant's '/' cannot nest folders and no two names share a folder: 'size/d_model=32,n_layer=1'
becomes 'size+d_model=32,n_layer=1' ('+' stands for '/', a literal '+' is '%2B').
DIR/ablate-tensorboard.json lists the folders written, so an export into the same DIR
replaces the previous one: event files of runs no longer in the study are removed, and
nothing but event files in folders this command wrote is ever deleted.

Tags (a tag whose values are all NaN in a run is left out, e.g. bpc of a synthetic task):

    train/loss, train/lr, train/grad_norm        steps table (grad norm: global, pre-clip)
    grad_norm/layer<L>.<module>, grad_norm/<module>   grads table (outside blocks: no layer)
    val/loss, val/bpc, val/token_acc, val/seq_acc     evals at the run's training length
    val_len<N>/...                                evals at longer lengths (length generalisation)
    eval_<split>/...                              evals of another split ('train')
    <metric>/layer<L>.head<H>, <metric>/layer<L>, <metric>/output   probes table, every metric
    attn_entropy/min, attn_logit_max/max          over layers and heads, at each probe step

Skipped evaluations (a note, NaN loss) are left out. Events carry the run's wall time
(study.json's 'created' + the steps table's time_s), so TensorBoard's Relative axis is
training seconds, and the files are byte-identical when the command is run again.

The writer: tensorboard's own RecordWriter (the record framing EventFileWriter and so
torch.utils.tensorboard use) over tensorboard.compat.proto Event/Summary protos; no TensorFlow
and no torch. Not EventFileWriter itself: it names files by time, host and pid and writes
from a thread, so a rerun would not give the same file. Imported only when the command runs.
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, unquote

import numpy as np
import pandas as pd

from ablate.analysis.load import StudyError, read_runs, read_study_json, read_table
from ablate.store.atomic import atomic_write_bytes, write_json

__all__ = ["MissingExtra", "export_tensorboard", "run_folder", "run_scalars", "safe_name"]

INSTALL = "pip install -e '.[tensorboard]'"
MANIFEST = "ablate-tensorboard.json"
EVENTS = "events.out.tfevents.*"  # what TensorBoard reads, and all this command deletes
KEYS = ["task", "variant", "seed"]
EVAL_METRICS = ["loss", "bpc", "token_acc", "seq_acc"]


class MissingExtra(ImportError):
    """The tensorboard extra is not installed; the message says how to install it."""


def safe_name(name: str) -> str:
    """A task or variant name as one folder name, reversibly: percent-encoding keeps '=', ','
    readable, '/' becomes '+'; '.' and '..' alone are encoded so they cannot walk up."""
    if not name:
        raise ValueError("an empty name has no folder")
    text = quote(name, safe="=,/").replace("/", "+")  # quote encodes a literal '+' as %2B
    return text.replace(".", "%2E") if set(text) == {"."} else text


def unsafe_name(folder: str) -> str:
    """safe_name's inverse: the variant name of a folder."""
    return unquote(folder.replace("+", "/"))


def run_folder(task: str, variant: str, seed: int) -> str:
    """'shakespeare_char/size+d_model=32,n_layer=1/seed=0' (relative to --out)."""
    return f"{safe_name(task)}/{safe_name(variant)}/seed={int(seed)}"


def run_scalars(study_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, scalars): runs.parquet, and one row per (task, variant, seed, tag, step) with its
    value, ordered by run, step and tag. What export_tensorboard writes, without tensorboard."""
    return _scalars(study_dir, _read(study_dir))


def _read(study_dir: str | Path) -> dict[str, pd.DataFrame]:
    """runs.parquet and the per-step study tables, each read once."""
    tables = {name: read_table(study_dir, name, required=False) for name in SOURCES}
    return {"runs": read_runs(study_dir), **tables}


SOURCES = ("steps", "grads", "evals", "probes")  # the study tables the scalars come from


def _scalars(study_dir, t: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    runs = t["runs"]
    if runs.duplicated(KEYS).any():
        twice = runs.loc[runs.duplicated(KEYS), KEYS].to_dict("records")
        raise StudyError(f"{study_dir}: runs.parquet lists some runs twice: {twice[:3]}")
    parts = [_steps(t["steps"]), _grads(t["grads"]), _evals(t["evals"]), *_probes(t["probes"])]
    columns = [*KEYS, "tag", "step", "value"]
    scalars = pd.concat([p[columns] for p in parts if len(p)] or [pd.DataFrame(columns=columns)])
    scalars = scalars.astype({"step": "int64", "value": "float64", "seed": "int64"})
    measured = scalars["value"].notna().groupby([scalars[k] for k in [*KEYS, "tag"]])
    scalars = scalars[measured.transform("any").astype(bool)]
    return runs, scalars.sort_values([*KEYS, "step", "tag"], kind="stable", ignore_index=True)


def _steps(steps: pd.DataFrame) -> pd.DataFrame:
    long = steps.melt([*KEYS, "step"], ["loss", "lr", "grad_norm"], "tag", "value")
    return long.assign(tag="train/" + long["tag"])


def _grads(grads: pd.DataFrame) -> pd.DataFrame:
    # parameters outside the blocks (embedding, head, final norm) have no layer
    where = np.where(grads["layer"] < 0, "", "layer" + grads["layer"].astype(str) + ".")
    return grads.assign(tag="grad_norm/" + where + grads["module"], value=grads["grad_norm"])


def _evals(evals: pd.DataFrame) -> pd.DataFrame:
    evals = evals[evals["note"].fillna("") == ""]  # skipped: nothing was measured
    # the training length is the shortest evaluated one, as the report's curves take it (a
    # synthetic task's length need not be data.seq_len)
    shortest = evals.groupby(KEYS)["seq_len"].transform("min")
    split = np.where(evals["split"] == "val", "val", "eval_" + evals["split"].astype(str))
    longer = np.where(evals["seq_len"] == shortest, "", "_len" + evals["seq_len"].astype(str))
    evals = evals.assign(prefix=pd.Series(split, index=evals.index) + longer)
    long = evals.melt([*KEYS, "step", "prefix"], EVAL_METRICS, "metric", "value")
    return long.assign(tag=long["prefix"] + "/" + long["metric"])


def _probes(probes: pd.DataFrame) -> list[pd.DataFrame]:
    layer, head = probes["layer"].astype(str), probes["head"].astype(str)
    where = np.where(
        probes["layer"] < 0,
        "output",
        np.where(probes["head"] < 0, "layer" + layer, "layer" + layer + ".head" + head),
    )
    each = probes.assign(tag=probes["metric"] + "/" + where)
    heads = probes[probes["head"] >= 0]
    extremes = [  # one curve per run however many heads it has: runs compare on one chart
        heads[heads["metric"] == metric]
        .groupby([*KEYS, "step"], as_index=False)["value"]
        .agg(how)
        .assign(tag=f"{metric}/{how}")
        for metric, how in (("attn_entropy", "min"), ("attn_logit_max", "max"))
    ]
    return [each, *extremes]


def _protos():
    """tensorboard's protos and record writer, or MissingExtra naming the install command."""
    try:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary
        from tensorboard.summary.writer.record_writer import RecordWriter
    except ImportError as error:
        raise MissingExtra(
            f"ablate tensorboard needs the tensorboard package ({error}); install the "
            f"extra: {INSTALL}"
        ) from error
    return Event, Summary, RecordWriter


def event_file(scalars: pd.DataFrame, times: pd.DataFrame, start: float) -> bytes:
    """One run's event file: the file-version record, then one event per step holding every
    tag measured at that step. times: the run's steps rows (step, time_s)."""
    Event, Summary, RecordWriter = _protos()
    buffer = io.BytesIO()
    writer = RecordWriter(buffer)
    writer.write(Event(wall_time=start, file_version="brain.Event:2").SerializeToString())
    known = times.sort_values("step")
    steps = scalars["step"].to_numpy()
    # wall time at a step: time_s where recorded, interpolated for probes and evals between
    # recorded steps (0 s at step 0, the probe at init)
    seconds = np.interp(steps, [0, *known["step"]], [0.0, *known["time_s"].fillna(0.0)])
    rows = zip(steps, seconds, scalars["tag"], scalars["value"], strict=True)
    current, values, wall = None, [], start
    for step, second, tag, value in rows:
        if step != current and values:
            event = Event(step=int(current), wall_time=wall, summary=Summary(value=values))
            writer.write(event.SerializeToString())
            values = []
        current, wall = step, start + float(second)
        values.append(Summary.Value(tag=tag, simple_value=float(value)))
    if values:
        event = Event(step=int(current), wall_time=wall, summary=Summary(value=values))
        writer.write(event.SerializeToString())
    return buffer.getvalue()


def export_tensorboard(study_dir: str | Path, out_dir: str | Path) -> list[str]:
    """Write every run of the study as a TensorBoard run under out_dir; returns the folders
    (relative to out_dir), in runs.parquet's order. Replaces an earlier export there."""
    _protos()  # fail before anything is read or removed
    out_dir = Path(out_dir)
    tables = _read(study_dir)
    runs, scalars = _scalars(study_dir, tables)
    folders = [run_folder(*key) for key in runs[KEYS].itertuples(index=False)]
    if len({f.casefold() for f in folders}) < len(folders):  # a case-insensitive disk
        raise StudyError(f"{study_dir}: two runs' folders differ only in case: {folders}")
    _clear(out_dir, folders)
    start = _created(study_dir)
    by_run = dict(tuple(scalars.groupby(KEYS, sort=False)))
    steps = tables["steps"]  # the steps' times: the events' wall times
    times = dict(tuple(steps.groupby(KEYS, sort=False)))
    empty = scalars.iloc[:0]
    for key, folder in zip(runs[KEYS].itertuples(index=False, name=None), folders, strict=True):
        own = times.get(key, steps.iloc[:0])
        data = event_file(by_run.get(key, empty), own, start)
        atomic_write_bytes(out_dir / folder / f"events.out.tfevents.{int(start):010d}.ablate", data)
    index = runs[[*KEYS, "run_id"]].assign(folder=folders)
    index["seed"] = index["seed"].astype(int)
    write_json(out_dir / MANIFEST, {"study": str(study_dir), "runs": index.to_dict("records")})
    return folders


def _created(study_dir) -> float:
    """study.json's creation time as a Unix time (0 without one): a fixed origin, so the
    events' wall times, and so the files, are the same on every export."""
    try:
        return datetime.fromisoformat(str(read_study_json(study_dir)["created"])).timestamp()
    except (KeyError, ValueError):
        return 0.0


def _clear(out_dir: Path, folders: list[str]) -> None:
    """Remove the event files of the previous export (its manifest's folders) and of the
    folders about to be written, then folders left empty; only event files, only inside
    out_dir, whatever the manifest says."""
    old = []
    manifest = out_dir / MANIFEST
    if manifest.is_file():
        try:
            old = [str(r["folder"]) for r in json.loads(manifest.read_text())["runs"]]
        except (ValueError, KeyError, TypeError):
            old = []  # unreadable: clear only the folders written now
    root = out_dir.resolve()
    for folder in dict.fromkeys([*old, *folders]):
        path = (out_dir / folder).resolve()
        if ".." in Path(folder).parts or root not in path.parents or not path.is_dir():
            continue
        for file in path.glob(EVENTS):
            if file.is_file():
                file.unlink()
        while path != root and path.is_dir() and not any(path.iterdir()):
            path.rmdir()  # an emptied folder (its run left the study), up to out_dir
            path = path.parent
