"""matrix.md: per network, variants × clients with a mark per cell, then the non-PASS cells."""

from __future__ import annotations

import re
from typing import Any

from streamcompat.harness.outputs.reports.cells import (
    MARKS,
    PASSING,
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
        verdicts = {(_row(c), str(c.get("client"))): _verdict(c) for c in here}
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


# Characters XML 1.0 cannot carry at all, even escaped (controls, lone surrogates).
