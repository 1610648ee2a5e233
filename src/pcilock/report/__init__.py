"""Reports of a check: text (mail), JSON, Graphviz DOT and a self-contained HTML page.

:func:`build_report` turns an engine :class:`~pcilock.engine.Result` into a
plain dict; every renderer reads only that dict.  No logic about the kernel
lives here.
"""

from .build import FORMAT, build_report
from .dot import render_dot
from .html import render_html
from .io import ReportPathError, check_writable, write_atomic
from .jsonout import render_json, schema
from .progress import Progress, make_progress
from .text import render_text

# --format / output-file renderers by name
RENDERERS = {"text": render_text, "json": render_json, "html": render_html, "dot": render_dot}

__all__ = [
    "FORMAT", "RENDERERS", "build_report", "render_text", "render_json", "render_dot", "render_html",
    "schema", "check_writable", "write_atomic", "ReportPathError", "make_progress", "Progress",
]
