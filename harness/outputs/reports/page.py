"""report.html: one self-contained page (no network, no script): the run, a matrix per
network, and a card per cell with its timeline and wire view."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from typing import Any

from streamcompat.harness.kernel import model
from streamcompat.harness.outputs.reports.cells import (
    Cell,
    _axes,
    _cells,
    _counts,
    _figures,
    _key,
    _networks,
    _pair,
    _row,
    _verdict,
    _versions,
    _wall,
    _where,
)
from streamcompat.harness.outputs.reports.timeline import _css_verdict, _h, timeline_svg
from streamcompat.harness.outputs.reports.wire import wire_html

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

CSS = (resources.files(__package__) / "report.css").read_text(encoding="utf-8")

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
    by_pair = {(_row(c), str(c.get("client"))): c for c in cells}
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


#: Shown as escapes: controls (CR, LF, tab, ...), C1 controls, line and paragraph
#: separators, the BOM, and bytes that are not UTF-8 (``surrogateescape`` made them
#: U+DC80..U+DCFF). Everything else is shown as the UTF-8 text it is.
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
            sections += [_cell_html(c, ids[id(c)], anchor) for c in here if _row(c) == variant]
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
