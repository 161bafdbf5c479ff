"""matrix.md: the findings, then per network variants × clients with a mark per cell (a
client on a framing it does not parse muted), then the non-passing cells."""

from __future__ import annotations

import re
from typing import Any

from streamcompat.harness.outputs.reports.cells import (
    MARKS,
    PASSING,
    Cell,
    _axes,
    _cells,
    _counts,
    _key,
    _networks,
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

_MD_SPECIAL = re.compile(r"[`*_\[\]<&|]|\\(?=[!-/:-@\[-`{-~])")


def _md(text: Any) -> str:
    flat = re.sub(r"[\r\n]+", " ", str(text))
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), flat)


def _mark(verdict: str, mismatch: Mismatch | None = None) -> str:
    if mismatch:  # muted: no mark, the word in lower case
        return f"· {_md(verdict.lower())}"
    return f"{MARKS.get(verdict, '❌')} {_md(verdict)}"


def findings_markdown(cells: list[Cell], readers: Readers) -> list[str]:
    """The findings as a table, then a line per kind of mismatch (muted, not findings)."""
    found = findings(cells, readers)
    count = sum(len(f.cells) for f in found)
    lines = [
        "### Findings",
        "",
        f"{cells_word(count)} whose verdict differs from that of {REFERENCES_SAID}.",
    ]
    if found:
        lines += ["", "| variant | verdict | clients | compared with | cause |", "|---" * 5 + "|"]
    for f in found:
        compared = "; ".join(w for w in (f.compared, f.where) if w)
        lines.append(
            f"| {_md(f.variant)} | {_mark(f.verdict)} | {_md(', '.join(f.clients))} "
            f"| {_md(compared)} | {_md(f.cause)} |"
        )
    quiet = muted(cells, readers)
    if quiet:
        lines += ["", "Not findings, muted (· lower case) in the matrices: a client on a framing "
                  "it does not parse.", ""]  # fmt: skip
        for m, those in quiet.items():
            counted = f"{cells_word(len(those))} ({verdict_counts(those)})"
            lines.append(f"- {_md(m.label)}: {_md(counted)}: {_md(m.hint)}")
    return [*lines, ""]


def matrix_markdown(index: dict[str, Any]) -> str:
    """The findings; then per network: variants × clients grouped by what they read, with a
    mark per cell, and a line per non-passing cell but the muted ones."""
    cells = _cells(index)
    readers = Readers(index, cells)
    versions = " · ".join(f"{_md(k)} {_md(v)}" for k, v in _versions(index).items())
    lines = [f"## streamcompat — {_counts(cells)} · wall time {_wall(index)}", ""]
    if versions:
        lines += [versions, ""]
    lines += findings_markdown(cells, readers)
    for network in _networks(cells):
        here = [c for c in cells if _where(c) == network]
        variants, clients = _axes(here)
        groups = readers.columns(clients)
        columns = [c for _, names in groups for c in names]
        verdicts = {(_row(c), str(c.get("client"))): _verdict(c) for c in here}
        lines += [f"### network: {_md(network)}", ""]
        lines.append("| variant | " + " | ".join(_md(c) for c in columns) + " |")
        lines.append("|---" * (len(columns) + 1) + "|")
        if any(group for group, _ in groups):  # a row that names each group of columns
            named = [_md(g or "other") if i == 0 else "" for g, n in groups for i in range(len(n))]
            lines.append("| *reads* | " + " | ".join(named) + " |")
        for v in variants:
            row = [
                _mark(verdicts[v, c], readers.mismatch(v, c)) if (v, c) in verdicts else ""
                for c in columns
            ]
            lines.append(f"| {_md(v)} | " + " | ".join(row) + " |")
        lines.append("")
        failing = [
            c for c in here
            if _verdict(c) not in PASSING
            and not readers.mismatch(str(c.get("variant")), str(c.get("client")))
        ]  # fmt: skip
        for c in failing:
            lines.append(f"- {_md(_key(c))}: {_md(_verdict(c))} — {_md(c.get('detail', ''))}")
        if failing:
            lines.append("")
    return "\n".join(lines)


# Characters XML 1.0 cannot carry at all, even escaped (controls, lone surrogates).
