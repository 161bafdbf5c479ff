"""The reports every run writes beside ``index.json``: matrix.md, junit.xml, report.html.

Each is a pure function of the index dict (``outputs.results.index``), so a report can be
rebuilt from any saved ``index.json``; ``write_reports`` only adds the file writes.
Standard library only. One reporter per module; report.html's style is ``report.css``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from streamcompat.harness.outputs.reports.junit import junit_xml
from streamcompat.harness.outputs.reports.markdown import matrix_markdown
from streamcompat.harness.outputs.reports.page import VERDICT_COLOURS, report_html
from streamcompat.harness.outputs.reports.timeline import timeline_svg
from streamcompat.harness.outputs.reports.wire import wire_html

__all__ = [
    "VERDICT_COLOURS",
    "junit_xml",
    "matrix_markdown",
    "report_html",
    "timeline_svg",
    "wire_html",
    "write_reports",
]


def write_reports(folder: Path, index: dict[str, Any]) -> list[Path]:
    """Write matrix.md, junit.xml and report.html into ``folder``; return their paths.

    When ``GITHUB_STEP_SUMMARY`` names a file, matrix.md is appended to it too, so a
    GitHub Actions run shows the matrix on its summary page.
    """
    folder.mkdir(parents=True, exist_ok=True)
    spec = folder / "differential.json"  # written by `streamcompat spec`, when it ran
    differential = json.loads(spec.read_text(encoding="utf-8")) if spec.exists() else None
    written = {
        folder / "matrix.md": matrix_markdown(index),
        folder / "junit.xml": junit_xml(index),
        folder / "report.html": report_html(index, differential),
    }
    for path, text in written.items():
        # "replace": a lone surrogate in a detail must not cost the whole report.
        path.write_text(text, encoding="utf-8", errors="replace")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8", errors="replace") as out:
            out.write(written[folder / "matrix.md"] + "\n")
    return list(written)
