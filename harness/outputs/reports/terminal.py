"""The terminal's report: per network, variants × clients grouped by what they read, then
the findings, last, so that they are what a terminal shows when the run ends.

A client on a framing it does not parse is muted: its verdict in lower case.
"""

from __future__ import annotations

import re
from typing import Any

from streamcompat.harness.outputs.reports.cells import (
    _axes,
    _cells,
    _networks,
    _row,
    _verdict,
    _where,
)
from streamcompat.harness.outputs.reports.findings import (
    REFERENCES_SAID,
    cells_word,
    findings,
    muted,
    verdict_counts,
)
from streamcompat.harness.outputs.reports.readers import Readers

# What a terminal would act on rather than show: C0 and C1 controls (an ESC sequence from
# a server's bytes, a CR that overwrites the line, a line break inside one line, U+2028
# and U+2029 too) and the bidirectional overrides that reorder what follows; a tab stays.
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069]")

MUTED = "lower case: a client on a framing it does not parse (not a finding; see below)"


def plain(text: str) -> str:
    """``text`` for one terminal line: each unsafe character as its Python escape."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _matrix(here: list[dict[str, Any]], where: str, readers: Readers) -> list[str]:
    variants, clients = _axes(here)
    groups = readers.columns(clients)
    columns = [c for _, names in groups for c in names]
    verdicts = {(_row(c), str(c.get("client"))): c for c in here}
    first = max(len("variant"), *(len(plain(v)) for v in variants))
    widths = {c: max(len(plain(c)), 11) for c in columns}
    network, _, scenario = where.partition(" × ")
    lines = [f"network: {plain(network)}" + (f", scenario: {scenario}" if scenario else "")]
    if any(group for group, _ in groups):
        spans = []
        for group, names in groups:
            span = sum(widths[c] for c in names) + 2 * (len(names) - 1)
            label = (group or "other")[:span]
            spans.append(f"{label} {'-' * (span - len(label) - 1)}" if span > len(label) else label)
        lines.append(" " * first + "  " + "  ".join(spans).rstrip())
    header = "variant".ljust(first) + "  " + "  ".join(plain(c).ljust(widths[c]) for c in columns)
    lines += [header.rstrip(), "-" * len(header.rstrip())]
    for v in variants:
        row = []
        for c in columns:
            cell = verdicts.get((v, c))
            shown = "-" if cell is None else plain(_verdict(cell))
            if cell is not None and readers.mismatch(v, c):
                shown = shown.lower()
            row.append(shown.ljust(widths[c]))
        lines.append((plain(v).ljust(first) + "  " + "  ".join(row)).rstrip())
    return lines


def findings_text(index: dict[str, Any]) -> str:
    """The findings, a line each, then the muted cells, a line per kind of mismatch."""
    cells = _cells(index)
    readers = Readers(index, cells)
    found = findings(cells, readers)
    count = sum(len(f.cells) for f in found)
    lines = [
        f"findings: {cells_word(count)} whose verdict differs from that of",
        f"  {REFERENCES_SAID}" + (":" if found else "."),
    ]
    width = max((len(plain(f.variant)) for f in found), default=0)
    worded = max((len(f.verdict) for f in found), default=0)
    shown = ""
    for f in found:
        variant = plain(f.variant) if f.variant != shown else ""
        shown = f.variant
        said = plain("; ".join(w for w in (f.compared, f.where) if w))
        clients = plain(", ".join(f.clients))
        verdict = plain(f.verdict).ljust(worded)
        lines.append(f"  {variant.ljust(width)}  {verdict}  {clients} ({said}): {plain(f.cause)}")
    quiet = muted(cells, readers)
    if quiet:
        lines.append("not findings, muted in the matrices: a client on a framing it does not parse")
        for mismatch, those in quiet.items():
            counted = f"{cells_word(len(those))} ({verdict_counts(those)})"
            lines.append(f"  {mismatch.label}: {counted}: {mismatch.hint}")
    return "\n".join(lines)


def terminal_text(index: dict[str, Any]) -> str:
    """Every matrix of the run, then the findings."""
    cells = _cells(index)
    readers = Readers(index, cells)
    lines: list[str] = []
    for where in _networks(cells):
        lines += _matrix([c for c in cells if _where(c) == where], where, readers)
        lines.append("")
    if any(readers.mismatch(str(c.get("variant")), str(c.get("client"))) for c in cells):
        lines += [MUTED, ""]
    return "\n".join(lines) + findings_text(index) + "\n"
