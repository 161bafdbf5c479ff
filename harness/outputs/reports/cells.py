"""What every report reads of a cell of ``index.json``: names, verdicts, figures."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from streamcompat.harness.kernel import model
from streamcompat.harness.kernel.model import Verdict

Cell = dict[str, Any]

PASS = Verdict.PASS.value
UNSUPPORTED = Verdict.UNSUPPORTED.value
KNOWN = tuple(v.value for v in Verdict)
#: The verdicts that pass their scenario (PASS, STOPPED, TOLD).
PASSING = frozenset(v.value for v in Verdict if v.passed)
MARKS = {verdict.value: facts.mark for verdict, facts in model.FACTS.items()}


def _cells(index: dict[str, Any]) -> list[Cell]:
    return [c for c in index.get("cells") or [] if isinstance(c, dict)]


def _verdict(cell: Cell) -> str:
    return str(cell.get("verdict") or "UNKNOWN")


def _pair(cell: Cell) -> str:
    return f"{_row(cell)} × {cell.get('client', '?')}"


def _row(cell: Cell) -> str:
    """The cell's row: its variant, and the server it ran under unless the default."""
    return _named(cell).row


def _named(cell: Cell) -> model.Cell:
    """The index record's cell, whose key and matrix ``model.Cell`` names."""
    return model.Cell(
        str(cell.get("variant", "?")),
        str(cell.get("client", "?")),
        str(cell.get("network", "?")),
        str(cell.get("scenario", "stream")),
        str(cell.get("server") or model.DEFAULT_SERVER),
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
    variants = dict.fromkeys(_row(c) for c in cells)
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
    if cell.get("protocol"):
        figures.append(("protocol", str(cell["protocol"])))
    return figures


# What Markdown would interpret; GitHub renders step summaries, so `<` would be HTML.
