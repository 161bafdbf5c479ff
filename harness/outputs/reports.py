"""The reports every run writes beside ``index.json``: matrix.md, junit.xml, report.html.

Each is a pure function of the index dict (``harness.results.index``), so a report can be
rebuilt from any saved ``index.json``; ``write_reports`` only adds the file writes.
Standard library only; report.html is one self-contained file (no network, no script).
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamcompat.harness.kernel import model
from streamcompat.harness.kernel.model import Verdict
from streamcompat.harness.kernel.networks import NETWORKS

Cell = dict[str, Any]

PASS = Verdict.PASS.value
UNSUPPORTED = Verdict.UNSUPPORTED.value
KNOWN = tuple(v.value for v in Verdict)
#: The verdicts that pass their scenario (PASS, STOPPED, TOLD).
PASSING = frozenset(v.value for v in Verdict if v.passed)
MARKS = {verdict.value: facts.mark for verdict, facts in model.FACTS.items()}


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


# --- reading the index ------------------------------------------------------------------


def _cells(index: dict[str, Any]) -> list[Cell]:
    return [c for c in index.get("cells") or [] if isinstance(c, dict)]


def _verdict(cell: Cell) -> str:
    return str(cell.get("verdict") or "UNKNOWN")


def _pair(cell: Cell) -> str:
    return f"{cell.get('variant', '?')} × {cell.get('client', '?')}"


def _named(cell: Cell) -> model.Cell:
    """The index record's cell, whose key and matrix ``model.Cell`` names."""
    return model.Cell(
        str(cell.get("variant", "?")),
        str(cell.get("client", "?")),
        str(cell.get("network", "?")),
        str(cell.get("scenario", "stream")),
    )


def _key(cell: Cell) -> str:
    return _named(cell).key


def _where(cell: Cell) -> str:
    """The cell's network, and its scenario unless it is ``stream`` (as in its key)."""
    return _named(cell).where


def _networks(cells: Iterable[Cell]) -> list[str]:
    """The matrices of a run: one per network and scenario (``_where``)."""
    return list(dict.fromkeys(_where(c) for c in cells))


def _axes(cells: list[Cell]) -> tuple[list[str], list[str]]:
    """Variants (rows) and clients (columns), in the order the run met them."""
    variants = dict.fromkeys(str(c.get("variant", "?")) for c in cells)
    clients = dict.fromkeys(str(c.get("client", "?")) for c in cells)
    return list(variants), list(clients)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


def _times(value: Any) -> list[float | None]:
    return [_number(v) for v in value] if isinstance(value, list) else []


def _ms(value: Any) -> str:
    n = _number(value)
    if n is None:
        return "—"
    digits = 2 if abs(n) < 10 else 1 if abs(n) < 100 else 0
    return f"{n:.{digits}f} ms"


def _counts(cells: list[Cell]) -> str:
    counts: dict[str, int] = {}
    for c in cells:
        counts[_verdict(c)] = counts.get(_verdict(c), 0) + 1
    order = [v for v in KNOWN if v in counts] + sorted(set(counts) - set(KNOWN))
    return f"{len(cells)} cells: " + ", ".join(f"{counts[v]} {v}" for v in order)


def _wall(index: dict[str, Any]) -> str:
    wall = _number((index.get("run") or {}).get("wall_s"))
    return "—" if wall is None else f"{wall:.1f} s"


def _versions(index: dict[str, Any]) -> dict[str, str]:
    found = (index.get("run") or {}).get("versions") or {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def _figures(cell: Cell) -> list[tuple[str, str]]:
    figures = [
        ("first token", _ms(cell.get("first_token_ms"))),
        ("lag p50", _ms(cell.get("lag_ms_p50"))),
        ("lag p99", _ms(cell.get("lag_ms_p99"))),
        ("duration", _ms(cell.get("duration_ms"))),
        ("surfaced", f"{cell.get('tokens_surfaced', '?')}/{cell.get('tokens', '?')} tokens"),
    ]
    if cell.get("stalled_at"):
        figures.append(("stalled at", f"token {cell['stalled_at']}"))
    return figures


# --- matrix.md --------------------------------------------------------------------------

# What Markdown would interpret; GitHub renders step summaries, so `<` would be HTML.
_MD_SPECIAL = re.compile(r"[`*_\[\]<&|]|\\(?=[!-/:-@\[-`{-~])")


def _md(text: Any) -> str:
    flat = re.sub(r"[\r\n]+", " ", str(text))
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), flat)


def _mark(verdict: str) -> str:
    return f"{MARKS.get(verdict, '❌')} {_md(verdict)}"


def matrix_markdown(index: dict[str, Any]) -> str:
    """Per network: variants × clients with a mark per cell, then a line per non-PASS cell."""
    cells = _cells(index)
    versions = " · ".join(f"{_md(k)} {_md(v)}" for k, v in _versions(index).items())
    lines = [f"## streamcompat — {_counts(cells)} · wall time {_wall(index)}", ""]
    if versions:
        lines += [versions, ""]
    for network in _networks(cells):
        here = [c for c in cells if _where(c) == network]
        variants, clients = _axes(here)
        verdicts = {(str(c.get("variant")), str(c.get("client"))): _verdict(c) for c in here}
        lines += [f"### network: {_md(network)}", ""]
        lines.append("| variant | " + " | ".join(_md(c) for c in clients) + " |")
        lines.append("|---" * (len(clients) + 1) + "|")
        for v in variants:
            row = [_mark(verdicts[v, c]) if (v, c) in verdicts else "" for c in clients]
            lines.append(f"| {_md(v)} | " + " | ".join(row) + " |")
        lines.append("")
        failing = [c for c in here if _verdict(c) not in PASSING]
        for c in failing:
            lines.append(f"- {_md(_key(c))}: {_md(_verdict(c))} — {_md(c.get('detail', ''))}")
        if failing:
            lines.append("")
    return "\n".join(lines)


# --- junit.xml --------------------------------------------------------------------------

# Characters XML 1.0 cannot carry at all, even escaped (controls, lone surrogates).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: Any) -> str:
    return _NOT_XML.sub("\ufffd", str(text))


def _seconds(cell: Cell) -> float:
    return (_number(cell.get("duration_ms")) or 0.0) / 1000


def junit_xml(index: dict[str, Any]) -> str:
    """One testsuite per network (and scenario), one testcase per cell; UNSUPPORTED is
    skipped, not failed, and a scenario's passing word (STOPPED, TOLD) passes."""
    cells = _cells(index)
    suites = ET.Element("testsuites", name="streamcompat")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for network in _networks(cells):
        here = [c for c in cells if _where(c) == network]
        dotted = network.replace(model.KEY_SEPARATOR, ".")  # direct, or direct.abort
        suite = ET.SubElement(suites, "testsuite", name=_xml(f"streamcompat.{dotted}"))
        properties = ET.SubElement(suite, "properties")
        for name, version in _versions(index).items():
            ET.SubElement(properties, "property", name=_xml(name), value=_xml(version))
        counts = {"tests": len(here), "failures": 0, "skipped": 0}
        for c in here:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=_xml(f"streamcompat.{dotted}"),
                name=_xml(_pair(c)),
                time=f"{_seconds(c):.3f}",
            )
            verdict, detail = _verdict(c), str(c.get("detail", ""))
            if verdict == UNSUPPORTED:
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=_xml(f"{verdict}: {detail}"))
            elif verdict not in PASSING:
                counts["failures"] += 1
                failure = ET.SubElement(
                    case, "failure", message=_xml(f"{verdict}: {detail}"), type=_xml(verdict)
                )
                facts = "\n".join(f"{name}: {value}" for name, value in _figures(c))
                failure.text = _xml(f"{detail}\n{facts}")
        for name, count in counts.items():
            suite.set(name, str(count))
            totals[name] += count
        suite.set("errors", "0")
        suite.set("time", f"{sum(_seconds(c) for c in here):.3f}")
    for name, count in totals.items():
        suites.set(name, str(count))
    suites.set("errors", "0")
    wall = _number((index.get("run") or {}).get("wall_s"))
    if wall is not None:
        suites.set("time", f"{wall:.3f}")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, "unicode") + "\n"


# --- report.html ------------------------------------------------------------------------


def _h(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _css_verdict(verdict: str) -> str:
    # Only known words become class names; anything else is styled as "other".
    return f"v-{verdict}" if verdict in KNOWN else "v-other"


def _f(value: float) -> str:
    """A coordinate, short: one decimal, no trailing zero (keeps 300 timelines small)."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _tick_step(span: float) -> float:
    """1, 2 or 5 × 10ⁿ, giving about five ticks over ``span``."""
    raw = span / 5
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if raw <= m * power)


@dataclass(frozen=True)
class _Frame:
    """Where a timeline draws, in SVG user units (the picture scales to the page width)."""

    end_ms: float  # the right edge of the plot
    rows: int  # one per token
    width: float = 560
    left: float = 30  # room for the row labels
    right: float = 14
    top: float = 6
    bottom: float = 22  # room for the time axis
    # All rows together: 6 a row, within these bounds (a few tokens still get a picture).
    rows_height: tuple[float, float] = (60, 150)

    @property
    def row_h(self) -> float:
        low, high = self.rows_height
        rows = max(self.rows, 1)
        return min(max(rows * 6.0, low), high) / rows

    @property
    def plot_w(self) -> float:
        return self.width - self.left - self.right

    @property
    def axis_y(self) -> float:
        return self.top + self.row_h * max(self.rows, 1)

    @property
    def height(self) -> int:
        return math.ceil(self.axis_y + self.bottom)

    def x(self, ms: float) -> float:
        return self.left + max(0.0, ms) / self.end_ms * self.plot_w

    def y(self, row: int) -> float:
        return self.top + (row + 0.5) * self.row_h


def _token_marks(f: _Frame, emitted: list[float | None], surfaced: list[float | None]) -> str:
    """A tick where each token was emitted, a line to the dot where it surfaced.

    Green when it surfaced before the next token was emitted (what PASS asks of every
    token), orange when after (held back); dashed grey to the end when it never did.
    Marks of a kind share one path: a fraction of the size of an element per mark.
    """
    end = f.end_ms
    paths: dict[str, list[str]] = {"ok": [], "held": [], "lost": [], "emit": []}
    dots: dict[str, list[str]] = {"ok": [], "held": []}
    half = min(3.0, f.row_h * 0.4)
    for k, e in enumerate(emitted):
        if e is None:
            continue
        row = _f(f.y(k))
        paths["emit"].append(f"M{_f(f.x(e))} {_f(f.y(k) - half)}v{_f(2 * half)}")
        s = surfaced[k] if k < len(surfaced) else None
        if s is None:
            paths["lost"].append(f"M{_f(f.x(e))} {row}H{_f(f.x(end))}")
            continue
        after = emitted[k + 1] if k + 1 < len(emitted) else None
        kind = "held" if after is not None and s > after else "ok"
        paths[kind].append(f"M{_f(f.x(e))} {row}H{_f(f.x(s))}")
        dots[kind].append(f"M{_f(f.x(s))} {row}h0")  # zero length + round cap: a dot
    # Inline style: the class's stroke-width (meant for lines) would beat an attribute.
    dot = f"stroke-width:{_f(min(4.0, max(1.5, f.row_h * 0.8)))}"
    return "".join(
        [f'<path class="{name}" d="{"".join(d)}"/>' for name, d in paths.items() if d]
        + [
            f'<path class="dot {name}" style="{dot}" d="{"".join(d)}"/>'
            for name, d in dots.items()
            if d
        ]
    )


def _time_axis(f: _Frame) -> str:
    step = _tick_step(f.end_ms)
    parts = []
    for i in range(int(f.end_ms / step) + 1):
        t = i * step
        at = _f(f.x(t))
        # The last label would run off the right edge: end it at its tick instead.
        anchor = ' text-anchor="end"' if f.x(t) > f.width - f.right - 16 else ""
        parts.append(
            f'<path class="grid" d="M{at} {_f(f.top)}V{_f(f.axis_y + 3)}"/>'
            f'<text x="{at}" y="{_f(f.axis_y + 13)}"{anchor}>{t:g}</text>'
        )
    parts.append(f'<text x="{_f(f.width - 2)}" y="{f.height - 1}" text-anchor="end">ms</text>')
    return "".join(parts)


def _row_labels(f: _Frame) -> str:
    rows = {0, f.rows - 1} if f.rows else set()
    return "".join(
        f'<text x="{_f(f.left - 4)}" y="{_f(f.y(k) + 3)}" text-anchor="end">#{k + 1}</text>'
        for k in sorted(rows)
    )


def _stall(
    f: _Frame, stalled: int, emitted: list[float | None], surfaced: list[float | None]
) -> str:
    """Shade the stalled token's row and say under it how long the token was held."""
    k = stalled - 1
    band = (
        f'<rect class="stall" x="{_f(f.left)}" y="{_f(f.top + k * f.row_h)}" '
        f'width="{_f(f.plot_w)}" height="{_f(f.row_h)}"/>'
    )
    e = emitted[k] if k < len(emitted) else None
    s = surfaced[k] if k < len(surfaced) else None
    if e is None:
        return band
    if s is None:
        words, until = f"token {stalled} stalled, never surfaced", f.end_ms
    else:
        words, until = f"token {stalled} stalled, surfaced {_ms(s - e)} later", s
    middle = (f.x(e) + f.x(until)) / 2
    return (
        f'{band}<text class="note" x="{_f(middle)}" y="{_f(f.y(k) + 13)}" '
        f'text-anchor="middle">{_h(words)}</text>'
    )


def timeline_svg(cell: Cell, cell_id: str) -> str:
    """The cell's tokens, one row each, first at the top: where the server emitted each
    (a tick) and where the client surfaced it (a dot), joined by a line.

    A PASS cell is a diagonal of green dots on their ticks; a BUFFERED one is a long
    orange line (the stalled token) and a wall of orange dots at the right.
    """
    emitted, surfaced = _times(cell.get("emitted_ms")), _times(cell.get("surfaced_ms"))
    tokens = cell.get("tokens")
    rows = max(len(emitted), len(surfaced), tokens if isinstance(tokens, int) else 0)
    duration = _number(cell.get("duration_ms")) or 0.0
    known = [t for t in (*emitted, *surfaced) if t is not None]
    f = _Frame(end_ms=max([duration, *known, 1.0]), rows=rows)
    parts = [
        f'<svg class="timeline" data-cell="{_h(cell_id)}" viewBox="0 0 {_f(f.width)} {f.height}" '
        f'width="{_f(f.width)}" height="{f.height}" role="img" '
        f'aria-label="{_h("timeline of " + _key(cell))}">',
        f"<title>{_h(_key(cell))}: per token, emitted (tick) and surfaced (dot)</title>",
        f'<rect class="plot" x="{_f(f.left)}" y="{_f(f.top)}" width="{_f(f.plot_w)}" '
        f'height="{_f(f.axis_y - f.top)}"/>',
    ]
    stalled = cell.get("stalled_at")
    if isinstance(stalled, int) and 1 <= stalled <= rows:
        parts.append(_stall(f, stalled, emitted, surfaced))
    parts += [_time_axis(f), _row_labels(f)]
    if duration:
        parts.append(
            f'<path class="end" d="M{_f(f.x(duration))} {_f(f.top)}V{_f(f.axis_y)}">'
            f"<title>cell end, {_h(_ms(duration))}</title></path>"
        )
    parts.append(_token_marks(f, emitted, surfaced))
    empty = "emitted" if all(e is None for e in emitted) else "surfaced"
    if rows and all(s is None for s in surfaced):
        parts.append(
            f'<text class="note" x="{_f(f.left + 6)}" y="{_f((f.top + f.axis_y) / 2)}">'
            f"no token {empty}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


# Per verdict: tint and ink for its badge and matrix cell, and the edge colour of its card;
# a verdict this version does not know (an old index.json) is grey.
VERDICT_COLOURS = {
    **{v.value: (f.tint, f.ink, f.edge) for v, f in model.FACTS.items()},
    "other": ("#e9ecef", "#495057", "#adb5bd"),
}
VERDICT_CSS = "".join(
    f".v-{v} {{ background: {tint}; color: {ink}; }}\n"
    f"section.cell.v-{v} {{ border-left-color: {edge}; }}\n"
    for v, (tint, ink, edge) in VERDICT_COLOURS.items()
)

CSS = """
:root { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #212529; }
body { margin: 0 auto; padding: 1em 1.5em 4em; max-width: 1280px; }
h1 { font-size: 1.5em; margin: .3em 0; } h2 { margin-top: 1.6em; font-size: 1.25em; }
h3 { grid-column: 1 / -1; margin: 1em 0 0; font-size: 1.05em; border-bottom: 1px solid #dee2e6; }
a { color: inherit; }
table { border-collapse: collapse; }
th, td { padding: .3em .6em; border: 1px solid #dee2e6; text-align: left; }
table.meta td, table.meta th { border: none; padding: .05em 1em .05em 0; font-weight: normal; }
table.meta th { color: #6c757d; white-space: nowrap; vertical-align: top; }
table.meta b { font-weight: 600; }
caption { text-align: left; padding: .2em 0; color: #495057; }
table.matrix { margin-bottom: 1em; }
table.matrix td { text-align: center; font-weight: 600; padding: 0; }
table.matrix td a { display: block; padding: .35em .7em; text-decoration: none; }
table.matrix th[scope=row] { font-family: ui-monospace, monospace; }
.badge { display: inline-block; padding: .05em .5em; border-radius: .3em; font-weight: 600; }
.cells { display: grid; grid-template-columns: repeat(auto-fill, minmax(540px, 1fr)); gap: .8em; }
section.cell { border: 1px solid #dee2e6; border-left-width: 6px; border-radius: 4px; }
section.cell { padding: .5em .8em; background: #fff; color: inherit; }  /* badge only tinted */
.cell:target { outline: 3px solid #4dabf7; }
.cell h4 { margin: 0 0 .2em; font-size: 1em; font-family: ui-monospace, monospace; }
.cell h4 small { color: #6c757d; font-weight: normal; }
.cell .up { float: right; font-size: .85em; color: #6c757d; }
.detail { margin: .2em 0; overflow-wrap: anywhere; }
.figures { margin: .2em 0 .4em; color: #495057; font-size: .9em; }
.figures b { color: #212529; font-weight: 600; }
svg.timeline { display: block; width: 100%; height: auto; }
svg text { font: 9px ui-monospace, monospace; fill: #6c757d; }
svg .plot { fill: #f8f9fa; } svg .stall { fill: #ffe3e3; }
svg .grid { stroke: #e9ecef; } svg .end { stroke: #868e96; stroke-dasharray: 3 2; }
svg path { fill: none; }
svg .ok { stroke: #2f9e44; stroke-width: 1.2; } svg .held { stroke: #e8590c; stroke-width: 1.2; }
svg .lost { stroke: #ced4da; stroke-dasharray: 2 2; } svg .emit { stroke: #343a40; }
svg .dot { stroke-linecap: round; }
svg .note { font-size: 11px; fill: #868e96; }
svg .note { paint-order: stroke; stroke: #f8f9fa; stroke-width: 3px; }  /* legible over lines */
details.wire { margin-top: .3em; font-size: .85em; }
details.wire summary { cursor: pointer; color: #495057; }
table.wire { width: 100%; margin-top: .2em; table-layout: fixed; }
table.wire th { width: 5.5em; color: #6c757d; font-weight: normal; text-align: right; }
table.wire th, table.wire td { padding: .1em .4em; vertical-align: top; }
table.wire td { font-family: ui-monospace, monospace; white-space: pre-wrap; }
table.wire td { overflow-wrap: anywhere; }
table.wire b { color: #1971c2; font-weight: normal; }  /* escapes: not the text's own */
table.wire i { color: #868e96; }
.legend { display: flex; flex-wrap: wrap; gap: .3em 1.4em; color: #495057; font-size: .9em; }
.legend svg { vertical-align: middle; }
"""

# Legend swatches: the same marks as the timelines, drawn small.
LEGEND = [
    ('<path class="emit" d="M8 3v10"/>', "emitted by the server"),
    (
        '<path class="ok" d="M8 8H28"/><path class="dot ok" style="stroke-width:4" d="M28 8h0"/>',
        "surfaced by the client before the next token was emitted",
    ),
    (
        '<path class="held" d="M8 8H28"/>'
        '<path class="dot held" style="stroke-width:4" d="M28 8h0"/>',
        "surfaced after the next token was emitted: held back",
    ),
    ('<path class="lost" d="M8 8H28"/>', "never surfaced"),
    ('<rect class="stall" x="2" y="3" width="30" height="10"/>', "stalled token (hold window)"),
    ('<path class="end" d="M18 1V15"/>', "cell end"),
]


def _legend() -> str:
    items = "".join(
        f'<span><svg width="34" height="16" viewBox="0 0 34 16">{mark}</svg> {_h(text)}</span>'
        for mark, text in LEGEND
    )
    return f'<div class="legend">{items}</div>'


def _joined(pairs: Iterable[tuple[str, str]]) -> str:
    return " · ".join(f"{_h(k)} <b>{_h(v)}</b>" for k, v in pairs)


def _run_meta(index: dict[str, Any], cells: list[Cell]) -> str:
    run = index.get("run") or {}
    settings, variants = run.get("settings"), run.get("variants")
    settings = settings if isinstance(settings, dict) else {}
    variants = variants if isinstance(variants, list) else []
    rows = [
        ("cells", f"<b>{_h(_counts(cells))}</b> · wall time <b>{_h(_wall(index))}</b>"),
        ("settings", _joined((str(k), str(v)) for k, v in settings.items())),
        ("variants from", _h(", ".join(map(str, variants)))),
        ("versions", _joined(_versions(index).items())),
        ("schema", _h(index.get("schema", "?"))),
    ]
    app = run.get("app")
    if isinstance(app, dict):  # app mode: the app under test instead of variants
        shown = {k: v for k, v in app.items() if v is not None}
        rows[2] = ("app", _joined((str(k), str(v)) for k, v in shown.items()))
    body = "".join(f'<tr><th scope="row">{_h(k)}</th><td>{v}</td></tr>' for k, v in rows)
    return f'<table class="meta">{body}</table>'


def _matrix_html(cells: list[Cell], ids: dict[int, str], network: str, anchor: str) -> str:
    variants, clients = _axes(cells)
    by_pair = {(str(c.get("variant")), str(c.get("client"))): c for c in cells}
    head = "".join(f'<th scope="col">{_h(c)}</th>' for c in clients)
    rows = []
    for v in variants:
        tds = []
        for client in clients:
            c = by_pair.get((v, client))
            if c is None:
                tds.append("<td></td>")
                continue
            verdict = _verdict(c)
            tds.append(
                f'<td class="{_css_verdict(verdict)}"><a href="#{ids[id(c)]}" '
                f'title="{_h(c.get("detail", ""))}">{_h(verdict)}</a></td>'
            )
        rows.append(f'<tr><th scope="row">{_h(v)}</th>{"".join(tds)}</tr>')
    return (
        f'<table class="matrix" id="{anchor}"><caption>network: {_h(network)}</caption>'
        f"<thead><tr><th>variant</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _cell_html(cell: Cell, cell_id: str, anchor: str) -> str:
    verdict = _verdict(cell)
    figures = " · ".join(f"{_h(k)} <b>{_h(v)}</b>" for k, v in _figures(cell))
    return (
        f'<section class="cell {_css_verdict(verdict)}" id="{cell_id}">'
        f'<a class="up" href="#{anchor}">↑ matrix</a>'
        f'<h4><span class="badge {_css_verdict(verdict)}">{_h(verdict)}</span> '
        f"{_h(_pair(cell))} <small>× {_h(_where(cell))}</small></h4>"
        f'<p class="detail">{_h(cell.get("detail", ""))}</p>'
        f'<p class="figures">{figures}</p>'
        f"{timeline_svg(cell, _key(cell))}{wire_html(cell)}</section>"
    )


# --- the wire: what the server sent --------------------------------------------------------

#: Shown as escapes: controls (CR, LF, tab, ...), C1 controls, line and paragraph
#: separators, the BOM, and bytes that are not UTF-8 (``surrogateescape`` made them
#: U+DC80..U+DCFF). Everything else is shown as the UTF-8 text it is.
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\udc80-\udcff]")
_NAMED = {"\r": "\\r", "\n": "\\n", "\t": "\\t"}


def _escape(ch: str) -> str:
    code = ord(ch)
    if ch in _NAMED:
        return _NAMED[ch]
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"  # a byte that is not UTF-8
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _visible(data: bytes) -> str:
    """HTML of bytes as text: UTF-8 as itself, every invisible character or non-UTF-8 byte
    as a marked escape (``<b>\\n</b>``), and a line break after each LF for legibility."""
    text = data.decode("utf-8", "surrogateescape")
    out, at = [], 0
    for m in _INVISIBLE.finditer(text):
        out.append(_h(text[at : m.start()]))
        ch = m.group()
        out.append(f"<b>{_escape(ch)}</b>" + ("\n" if ch == "\n" and m.end() < len(text) else ""))
        at = m.end()
    out.append(_h(text[at:]))
    return "".join(out)


def _latin1(value: Any) -> bytes:
    """Bytes from the index's latin-1 text (one character per byte); not text: none."""
    return value.encode("latin-1", "replace") if isinstance(value, str) else b""


def _sent(write: Any) -> tuple[Any, str] | None:
    """One write of ``server_sent``: its time and its bytes as HTML, or None if malformed."""
    if not isinstance(write, list) or len(write) < 2:
        return None
    shown = _visible(_latin1(write[1]))
    if len(write) >= 4 and isinstance(write[2], int) and write[2] > 0:
        shown += f"<i>… {write[2]:,} bytes not kept …</i>{_visible(_latin1(write[3]))}"
    return write[0], shown


def wire_html(cell: Cell) -> str:
    """What the variant server sent on the cell's stream — the head its app sent, then
    each body write and when, on the timeline's clock — folded under the timeline."""
    wire = cell.get("wire")
    if not isinstance(wire, dict):
        return ""
    head = [f"HTTP {_h(wire.get('status', '?'))}"] + [
        f"{_h(pair[0])}: {_h(pair[1])}"
        for pair in wire.get("headers") or []
        if isinstance(pair, list) and len(pair) == 2
    ]
    # Row headers without scope="row": a first-column <th> is one, and 500 cells × 30
    # writes make the attribute weigh 200 KB.
    rows = [f"<tr><th>head</th><td>{'<br>'.join(head)}</td></tr>"]
    writes = [w for w in map(_sent, wire.get("server_sent") or []) if w is not None]
    rows += [f"<tr><th>{_h(_ms(at))}</th><td>{shown}</td></tr>" for at, shown in writes]
    ended = _number(wire.get("ended_ms"))
    end = "body ended" if ended is not None else "the body had not ended when the cell did"
    rows.append(f"<tr><th>{_h(_ms(ended))}</th><td><i>{end}</i></td></tr>")
    count, size = wire.get("sent_writes"), wire.get("sent_bytes")
    words = (
        f"{count:,} writes, {size:,} bytes"
        if isinstance(count, int) and isinstance(size, int)
        else ""
    )
    notes = []
    if wire.get("truncated"):
        notes.append("some bytes not kept")
    network = str(cell.get("network", "direct"))
    # App mode: the variant server is the fake upstream, and what it sent went to the app.
    sender = "the fake upstream sent the app" if cell.get("app") else "the server sent"
    between = network not in NETWORKS or NETWORKS[network].between
    if between and not cell.get("app"):
        notes.append(f"the {network} network's proxy then reshaped them for the client")
    more = f" ({'; '.join(notes)})" if notes else ""
    return (
        f'<details class="wire"><summary>what {sender}: {_h(words)}{_h(more)}</summary>'
        f'<table class="wire">{"".join(rows)}</table></details>'
    )


def differential_html(differential: dict[str, Any]) -> str:
    """The spec differential (``streamcompat spec``): who deviates on which case, and how."""
    outcomes = [o for o in differential.get("outcomes") or [] if isinstance(o, dict)]
    columns = list(dict.fromkeys((str(o["client"]), str(o["network"])) for o in outcomes))
    by = {(o["case"], o["client"], o["network"]): o for o in outcomes}
    cases = list(dict.fromkeys(str(o["case"]) for o in outcomes if o.get("deviates")))
    head = "".join(f"<th>{_h(c)}<br><small>{_h(n)}</small></th>" for c, n in columns)
    rows = []
    for case in cases:
        marks = []
        for client, network in columns:
            o = by.get((case, client, network))
            if o is None:
                marks.append("<td></td>")
            elif o.get("deviates"):
                got = f"raised {o['error']}" if o.get("error") else f"got {o['got']!r}"
                tip = f"expected {o['expected']!r}, {got}"
                marks.append(f'<td class="v-CORRUPT" title="{_h(tip)}">DIFF</td>')
            else:
                marks.append('<td class="v-PASS">ok</td>')
        why = next((o.get("why", "") for o in outcomes if o["case"] == case), "")
        rows.append(f'<tr><th scope="row" title="{_h(why)}">{_h(case)}</th>{"".join(marks)}</tr>')
    return (
        f"<h2>Spec differential</h2><p>{len(cases)} of {_h(differential.get('cases', '?'))} "
        "corpus cases on which some client deviates from the WHATWG parsing rules "
        "(hover a mark for the events it produced).</p>"
        f'<table class="matrix"><tr><th>case</th>{head}</tr>{"".join(rows)}</table>'
    )


def report_html(index: dict[str, Any], differential: dict[str, Any] | None = None) -> str:
    """Run metadata, a matrix per network linking to each cell, and each cell's timeline."""
    cells = _cells(index)
    # Cells are dicts, not hashable: their anchors are keyed by identity.
    ids = {id(c): f"cell-{i}" for i, c in enumerate(cells)}
    matrices, sections = [], []
    for n, network in enumerate(_networks(cells)):
        here = [c for c in cells if _where(c) == network]
        anchor = f"matrix-{n}"
        matrices.append(_matrix_html(here, ids, network, anchor))
        sections.append(f'<h2>Cells · network {_h(network)}</h2><div class="cells">')
        for variant in _axes(here)[0]:
            sections.append(f"<h3>{_h(variant)}</h3>")
            sections += [
                _cell_html(c, ids[id(c)], anchor)
                for c in here
                if str(c.get("variant", "?")) == variant
            ]
        sections.append("</div>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>streamcompat — {_h(_counts(cells))}</title>"
        f"<style>{CSS}{VERDICT_CSS}</style></head><body>"
        f"<h1>streamcompat report</h1>{_run_meta(index, cells)}"
        f"<h2>Matrix</h2>{''.join(matrices)}"
        "<p>Each cell below has a timeline: one row per token, first at the top; x is "
        "milliseconds since the cell started, each picture on its own scale.</p>"
        f"{_legend()}{''.join(sections)}"
        f"{differential_html(differential) if differential else ''}</body></html>\n"
    )
