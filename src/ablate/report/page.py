"""One self-contained HTML page: Jinja2 templates, charts as Vega-Lite specs, JS inlined once.

Vega, Vega-Lite and vega-embed come from vl-convert's offline bundle (the same one Altair's
`save(inline=True)` uses) and are written into the page a single time, however many charts
it holds, so the file opens with no network. The page is rendered from templates/ with
autoescaping on: text from the study (variant names, reasons, docstrings) cannot inject
markup. Errors are made visible: templates/capture.js, loaded before anything else, copies
uncaught errors, rejected promises, console.error and console.warn (Vega's warnings) into
#report-errors / #report-warnings, and each chart's div gets data-rendered="true" once
vega-embed has drawn it. A headless browser test reads both.
"""

from __future__ import annotations

import functools
import json
import re

import altair as alt
import jinja2
from markupsafe import Markup

from ablate.store.user_cache import cached_text, user_cache_dir


@functools.cache
def vega_bundle() -> str:
    """vega + vega-lite + vega-embed as one script (about 0.9 MB), for Altair's Vega-Lite.
    Bundling takes seconds and gives the same script for the same versions: it is built
    once per machine and kept in the user's cache."""
    import vl_convert

    version = "_".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    name = f"vl-convert-{vl_convert.__version__}-vega-lite-v{version}.js"
    return cached_text(
        user_cache_dir("report", name),
        lambda: vl_convert.javascript_bundle(vl_version=f"v{version}"),
    )


@functools.cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("ablate.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt field fails loudly, not as blank text
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _script_safe(text: str) -> str:
    """JSON that cannot end the <script> element it sits in ("<\\/" is "</" in a JS string)."""
    return text.replace("</", "<\\/")


def _checked_code(code: str) -> str:
    """Code is inlined as is (rewriting "</" would break its regex literals), so check it."""
    if "</script" in code.lower():
        raise ValueError("inlined JavaScript contains '</script' and would end its element")
    return code


def slug(text: str) -> str:
    """A file- and id-safe name: 'model.n_head=1' -> 'model-n_head-1'."""
    return re.sub(r"[^A-Za-z0-9_]+", "-", text).strip("-") or "x"


class Page:
    """Collects charts (id -> Vega-Lite spec) while the sections are built, then renders."""

    def __init__(self, title: str, export_prefix: str = ""):
        self.title = title
        self.export_prefix = export_prefix  # relative href of the exports folder, or ""
        self.specs: dict[str, dict] = {}
        self.names: dict[str, str] = {}  # chart id -> export file stem

    def chart(self, chart: alt.TopLevelMixin, caption: str, name: str) -> dict:
        """Register a chart; returns the figure block the templates draw. `name` is the
        stem of its exported SVG/PNG (unique within the page)."""
        ident = f"chart-{len(self.specs) + 1}"
        with alt.data_transformers.disable_max_rows():  # the data was thinned on purpose
            self.specs[ident] = chart.to_dict()
        stem = slug(name)
        if stem in self.names.values():
            raise ValueError(f"two charts would be exported as {stem!r}")
        self.names[ident] = stem
        exports = []
        if self.export_prefix:
            exports = [(ext, f"{self.export_prefix}/{stem}.{ext}") for ext in ("svg", "png")]
        return {"kind": "figure", "id": ident, "caption": caption, "exports": exports}

    def chart_or_note(self, frame, build, caption: str, empty: str, name: str) -> dict:
        """``build(frame)`` as a chart, or, when the frame has no rows, a note saying what
        is missing: a study without that data still gets a complete report."""
        if frame.empty:
            return note(empty, "empty")
        return self.chart(build(frame), caption, name)

    def render(self, **context) -> str:
        specs = _script_safe(json.dumps(self.specs, separators=(",", ":"), allow_nan=False))
        template = environment().get_template("page.html.j2")
        return template.render(
            title=self.title,
            bundle=Markup(_checked_code(vega_bundle())),
            specs=Markup(specs),
            **context,
        )


def note(text: str, cls: str = "note") -> dict:
    return {"kind": "note", "text": text, "cls": cls}
