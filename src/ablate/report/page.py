"""One self-contained HTML page: sections of HTML, charts as Vega-Lite specs, JS inlined once.

Vega, Vega-Lite and vega-embed come from vl-convert's offline bundle (the same one Altair's
`save(inline=True)` uses) and are written into the page a single time, however many charts
it holds, so the file opens with no network. Errors are made visible: a small script,
loaded before anything else, copies uncaught errors, rejected promises, console.error and
console.warn (Vega's warnings) into #report-errors / #report-warnings, and each chart's div
gets data-rendered="true" once vega-embed has drawn it. A headless browser test reads both.
"""

from __future__ import annotations

import functools
import json
from html import escape

import altair as alt

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328;
       max-width: 1280px; margin: 0 auto; padding: 16px 24px 64px; }
h1 { margin-bottom: 4px; } h2 { border-bottom: 1px solid #d0d7de; padding-bottom: 4px;
     margin-top: 40px; } h3 { margin-top: 28px; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; }
dl.meta dt { color: #57606a; } dl.meta dd { margin: 0; }
.badge { color: #fff; border-radius: 10px; padding: 1px 7px; font-size: 12px;
         white-space: nowrap; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 12.5px; margin: 8px 0; }
th, td { border-bottom: 1px solid #d8dee4; padding: 3px 8px; text-align: left;
         white-space: nowrap; vertical-align: top; }
th { background: #f6f8fa; cursor: help; }
td:first-child { color: #57606a; }
figure { margin: 16px 0; } figcaption, .note { color: #57606a; font-size: 13px; max-width: 900px; }
.empty { color: #57606a; font-style: italic; }
pre.method { background: #f6f8fa; padding: 8px 12px; font-size: 12px; white-space: pre-wrap; }
#report-errors { color: #cf222e; } #report-warnings { color: #9a6700; }
"""

# Runs before the bundle so nothing that goes wrong while loading or drawing is lost.
CAPTURE_JS = """
(function () {
  function put(id, text) {
    var el = document.getElementById(id);
    if (!el) { (window.__pending = window.__pending || []).push([id, text]); return; }
    el.hidden = false; el.textContent += text + "\\n";
  }
  window.__reportError = function (text) { put("report-errors", text); };
  window.addEventListener("error", function (e) { put("report-errors", "error: " + e.message); });
  window.addEventListener("unhandledrejection", function (e) {
    put("report-errors", "unhandled rejection: " + e.reason); });
  var error = console.error, warn = console.warn;
  console.error = function () {
    put("report-errors", "console.error: " + Array.prototype.join.call(arguments, " "));
    error.apply(console, arguments); };
  console.warn = function () {
    put("report-warnings", "console.warn: " + Array.prototype.join.call(arguments, " "));
    warn.apply(console, arguments); };
  document.addEventListener("DOMContentLoaded", function () {
    (window.__pending || []).forEach(function (p) { put(p[0], p[1]); }); });
})();
"""

EMBED_JS = """
for (const [id, spec] of Object.entries(SPECS)) {
  vegaEmbed("#" + id, spec, {actions: false, renderer: "svg"})
    .then(function () { document.getElementById(id).dataset.rendered = "true"; })
    .catch(function (err) { window.__reportError("chart " + id + ": " + err); });
}
"""


@functools.cache
def vega_bundle() -> str:
    """vega + vega-lite + vega-embed as one script (about 0.9 MB), for Altair's Vega-Lite."""
    import vl_convert

    version = "_".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    return vl_convert.javascript_bundle(vl_version=f"v{version}")


def _script_safe(text: str) -> str:
    """JSON that cannot end the <script> element it sits in ("<\\/" is "</" in a JS string)."""
    return text.replace("</", "<\\/")


def _checked_code(code: str) -> str:
    """Code is inlined as is (rewriting "</" would break its regex literals), so check it."""
    if "</script" in code.lower():
        raise ValueError("inlined JavaScript contains '</script' and would end its element")
    return code


class Page:
    def __init__(self, title: str):
        self.title = title
        self.parts: list[str] = []
        self.specs: dict[str, dict] = {}

    def add(self, html: str) -> None:
        self.parts.append(html)

    def heading(self, text: str, level: int = 2, anchor: str | None = None) -> None:
        ident = f' id="{escape(anchor)}"' if anchor else ""
        self.add(f"<h{level}{ident}>{escape(text)}</h{level}>")

    def note(self, text: str, cls: str = "note") -> None:
        self.add(f'<p class="{cls}">{escape(text)}</p>')

    def chart(self, chart: alt.TopLevelMixin, caption: str = "") -> None:
        ident = f"chart-{len(self.specs) + 1}"
        with alt.data_transformers.disable_max_rows():  # the data was thinned on purpose
            self.specs[ident] = chart.to_dict()
        cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
        self.add(f'<figure><div class="chart" id="{ident}"></div>{cap}</figure>')

    def chart_or_note(self, frame, build, caption: str, empty: str) -> None:
        """``build(frame)`` as a chart, or, when the frame has no rows, a note saying what
        is missing: a study without that data still gets a complete report."""
        if frame.empty:
            self.note(empty, "empty")
        else:
            self.chart(build(frame), caption)

    def render(self) -> str:
        specs = _script_safe(json.dumps(self.specs, separators=(",", ":"), allow_nan=False))
        return "\n".join(
            [
                "<!DOCTYPE html>",
                '<html lang="en"><head><meta charset="utf-8">',
                f"<title>{escape(self.title)}</title>",
                f"<style>{CSS}</style>",
                f"<script>{CAPTURE_JS}</script>",
                f"<script>{_checked_code(vega_bundle())}</script>",
                "</head><body>",
                '<pre id="report-errors" hidden></pre><pre id="report-warnings" hidden></pre>',
                *self.parts,
                f"<script>const SPECS = {specs};\n{EMBED_JS}</script>",
                "</body></html>",
            ]
        )
