"""report.html: one self-contained page (no network, no script): the findings, the run, a
matrix per network (clients grouped by what they read; a client on a framing it does not
parse muted), and a card per cell with its timeline and wire view."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from typing import Any

from streamcompat.harness.kernel import model
from streamcompat.harness.kernel.servers import SERVERS
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
from streamcompat.harness.outputs.reports.findings import (
    REFERENCES_SAID,
    cells_word,
    findings,
    muted,
    verdict_counts,
)
from streamcompat.harness.outputs.reports.readers import Mismatch, Readers
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


def _findings_html(cells: list[Cell], readers: Readers, ids: dict[int, str]) -> str:
    """The findings, each client linked to its cell, then the muted kinds of cell."""
    found = findings(cells, readers)
    count = sum(len(f.cells) for f in found)
    rows = []
    for f in found:
        first = {str(c.get("client")): ids[id(c)] for c in reversed(f.cells)}
        links = ", ".join(f'<a href="#{first[c]}">{_h(c)}</a>' for c in f.clients)
        compared = "; ".join(w for w in (f.compared, f.where) if w)
        rows.append(
            f'<tr><th scope="row">{_h(f.variant)}</th>'
            f'<td><span class="badge {_css_verdict(f.verdict)}">{_h(f.verdict)}</span></td>'
            f"<td>{links}</td><td>{_h(compared)}</td><td>{_h(f.cause)}</td></tr>"
        )
    table = (
        '<table class="findings"><thead><tr><th>variant</th><th>verdict</th><th>clients</th>'
        f"<th>compared with</th><th>cause</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if rows
        else ""
    )
    quiet = "".join(
        f"<li><b>{_h(m.label)}</b>: {cells_word(len(those))} ({_h(verdict_counts(those))}): "
        f"{_h(m.hint)}</li>"
        for m, those in muted(cells, readers).items()
    )
    return (
        f"<h2>Findings</h2><p>{cells_word(count)} whose verdict differs from that of "
        f"{_h(REFERENCES_SAID)}.</p>{table}"
        + (
            '<p class="muted-note">Not findings, muted in the matrices: a client on a framing '
            f'it does not parse.</p><ul class="muted-note">{quiet}</ul>'
            if quiet
            else ""
        )
    )


def _matrix_html(
    cells: list[Cell], ids: dict[int, str], network: str, anchor: str, readers: Readers
) -> str:
    variants, clients = _axes(cells)
    groups = readers.columns(clients)
    columns = [c for _, names in groups for c in names]
    by_pair = {(_row(c), str(c.get("client"))): c for c in cells}
    head = "".join(f'<th scope="col">{_h(c)}</th>' for c in columns)
    if any(group for group, _ in groups):  # a header row that spans each group's columns
        spans = "".join(
            f'<th scope="colgroup" colspan="{len(names)}" class="group">{_h(group or "other")}</th>'
            for group, names in groups
        )
        head = f'<tr><th rowspan="2">variant</th>{spans}</tr><tr>{head}</tr>'
    else:
        head = f"<tr><th>variant</th>{head}</tr>"
    rows = []
    for v in variants:
        tds = []
        for client in columns:
            c = by_pair.get((v, client))
            if c is None:
                tds.append("<td></td>")
                continue
            verdict, mismatch = _verdict(c), readers.mismatch(v, client)
            tip = f"{mismatch.label}: {mismatch.hint}" if mismatch else c.get("detail", "")
            shown = _css_verdict(verdict) if not mismatch else "muted"
            tds.append(
                f'<td class="{shown}"><a href="#{ids[id(c)]}" '
                f'title="{_h(tip)}">{_h(verdict)}</a></td>'
            )
        rows.append(f'<tr><th scope="row">{_h(v)}</th>{"".join(tds)}</tr>')
    return (  # in a box of its own width: a run of 20 clients is wider than the page
        f'<div class="wide"><table class="matrix" id="{anchor}">'
        f"<caption>network: {_h(network)}</caption>"
        f"<thead>{head}</thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _client(cell: Cell) -> str:
    return str(cell.get("client", "?"))


def _cell_html(cell: Cell, cell_id: str, anchor: str, mismatch: Mismatch | None) -> str:
    verdict = _verdict(cell)
    figures = " · ".join(f"{_h(k)} <b>{_h(v)}</b>" for k, v in _figures(cell))
    edge = "muted" if mismatch else _css_verdict(verdict)
    why = (
        f'<p class="muted-note">muted, {_h(mismatch.label)}: {_h(mismatch.hint)}</p>'
        if mismatch
        else ""
    )
    return (
        f'<section class="cell {edge}" id="{cell_id}">'
        f'<a class="up" href="#{anchor}">↑ matrix</a>'
        f'<h4><span class="badge {_css_verdict(verdict)}">{_h(verdict)}</span> '
        f"{_h(_pair(cell))} <small>× {_h(_where(cell))}</small></h4>"
        f'<p class="detail">{_h(cell.get("detail", ""))}</p>{why}{_pitfalls_html(cell)}'
        f'<p class="figures">{figures}</p>'
        f"{timeline_svg(cell, _key(cell))}{wire_html(cell)}</section>"
    )


def _pitfalls_html(cell: Cell) -> str:
    """What is known of the cell's server, whatever its verdict (the detail says it where
    the verdict may show it)."""
    record = SERVERS.get(str(cell.get("server") or model.DEFAULT_SERVER))
    if record is None or not record.known or "known of " in str(cell.get("detail", "")):
        return ""
    return f'<p class="muted-note">known of {_h(record.name)}: {_h("; ".join(record.known))}</p>'


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
    """Findings, run metadata, a matrix per network linking to each cell, and each cell's
    timeline."""
    cells = _cells(index)
    readers = Readers(index, cells)
    # Cells are dicts, not hashable: their anchors are keyed by identity.
    ids = {id(c): f"cell-{i}" for i, c in enumerate(cells)}
    matrices, sections = [], []
    for n, network in enumerate(_networks(cells)):
        here = [c for c in cells if _where(c) == network]
        anchor = f"matrix-{n}"
        matrices.append(_matrix_html(here, ids, network, anchor, readers))
        sections.append(f'<h2>Cells · network {_h(network)}</h2><div class="cells">')
        for variant in _axes(here)[0]:
            sections.append(f"<h3>{_h(variant)}</h3>")
            sections += [
                _cell_html(c, ids[id(c)], anchor, readers.mismatch(variant, _client(c)))
                for c in here
                if _row(c) == variant
            ]
        sections.append("</div>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>streamcompat — {_h(_counts(cells))}</title>"
        f"<style>{CSS}{VERDICT_CSS}</style></head><body>"
        f"<h1>streamcompat report</h1>{_findings_html(cells, readers, ids)}"
        f"<h2>Run</h2>{_run_meta(index, cells)}"
        f"<h2>Matrix</h2>{''.join(matrices)}"
        "<p>Each cell below has a timeline: one row per token, first at the top; x is "
        "milliseconds since the cell started, each picture on its own scale.</p>"
        f"{_legend()}{''.join(sections)}"
        f"{differential_html(differential) if differential else ''}</body></html>\n"
    )
