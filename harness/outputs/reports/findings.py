"""The findings every report opens with: the cells whose verdict differs from what their
kind of client gets on the reference stream of the framing it reads, and the cells left
out of them because the client does not parse what it met (muted in the matrices).

A finding compares a client with itself: its verdict on a variant against its verdict on
that variant's reference (``readers.REFERENCES``: ``raw`` for plain text, ``ndjson`` for
JSON lines, ``sse`` for SSE; an SDK's first stream of its codec), on the same network and
scenario. On the reference itself, or where the run has no reference cell, the expected
verdict is a pass. Cells that differ alike are one line: same variant, scenario, verdict,
expected verdict, networks and cause (the detail with its figures left out).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from streamcompat.harness.outputs.reports.cells import PASSING, Cell, _axes, _named, _verdict
from streamcompat.harness.outputs.reports.readers import Mismatch, Readers

#: A cause is the detail's first this many characters.
CAUSE_WIDTH = 96

#: What a finding's verdict is compared with, in a line.
REFERENCES_SAID = (
    "the same client on the reference of the framing it reads: raw for plain text, ndjson "
    "for JSON lines, sse for SSE, an SDK's first stream of its codec (on a reference itself, "
    "or with none run, a pass)"
)


@dataclass(frozen=True)
class Finding:
    """Clients whose verdict on a variant differs alike from their verdict on its reference."""

    variant: str
    scenario: str
    verdict: str
    clients: tuple[str, ...]
    reference: str  # the variant compared with ("": none; the variant itself: a reference)
    expected: str  # the clients' verdict there ("": a pass was expected)
    networks: tuple[str, ...]  # where it holds; () on every network of its scenario
    cause: str
    cells: tuple[Cell, ...]

    @property
    def compared(self) -> str:
        """What it differs from, in a few words."""
        if not self.expected:
            return "the reference" if self.reference == self.variant else "no reference run"
        return f"{self.reference}: {self.expected}"

    @property
    def where(self) -> str:
        """The networks and scenario it holds on, if not every network of a stream run."""
        parts = [f"on {', '.join(self.networks)}"] if self.networks else []
        if self.scenario != "stream":
            parts.append(self.scenario)
        return " · ".join(parts)


def cause(detail: object, width: int = CAUSE_WIDTH) -> str:
    """A detail on one line, cut to ``width`` characters."""
    flat = " ".join(str(detail or "").split())
    return flat if len(flat) <= width else flat[: width - 1].rstrip() + "…"


def _figures_out(text: str) -> str:
    return re.sub(r"\d+(?:\.\d+)?", "#", text)


def _scenario(cell: Cell) -> str:
    return str(cell.get("scenario") or "stream")


@dataclass(frozen=True)
class _Differs:
    """How a cell differs: what its line shares with others (the cause without figures)."""

    variant: str
    scenario: str
    verdict: str
    expected: str
    reference: str
    cause: str


def _key(cell: Cell, variant: str | None = None) -> tuple[str, str, str, str]:
    """Row (the variant, ``@server`` unless the default), client, network, scenario; with
    ``variant``: that variant's cell beside it (the same server, client and network)."""
    named = _named(cell)
    if variant is not None:
        named = dataclasses.replace(named, variant=variant)
    return named.row, named.client, named.network, named.scenario


def _differs(cell: Cell, readers: Readers, played: dict[tuple[str, ...], Cell]) -> _Differs | None:
    """How a cell differs from its client on its reference (None: it does not, or its
    client does not parse what it met)."""
    row, client, _, scenario = _key(cell)
    variant = _named(cell).variant
    if readers.mismatch(variant, client):
        return None
    reference = readers.reference(variant, client)
    beside = _key(cell, reference)  # the reference under the same server
    there = played.get(beside) if reference != variant else None
    expected, verdict = (_verdict(there) if there else ""), _verdict(cell)
    if verdict == expected or (not expected and verdict in PASSING):
        return None
    detail = _figures_out(" ".join(str(cell.get("detail") or "").split()))
    return _Differs(row, scenario, verdict, expected, beside[0], detail)


def findings(cells: list[Cell], readers: Readers) -> list[Finding]:
    """The run's findings, by variant, scenario and client column, as the matrices are."""
    played: dict[tuple[str, ...], Cell] = {_key(c): c for c in cells}
    networks: dict[str, set[str]] = {}
    differing: dict[tuple[str, _Differs], list[Cell]] = {}
    for c in cells:
        networks.setdefault(_scenario(c), set()).add(str(c.get("network")))
        how = _differs(c, readers, played)
        if how:
            differing.setdefault((str(c.get("client")), how), []).append(c)
    variants, clients = _axes(cells)
    columns = [c for _, names in readers.columns(clients) for c in names]
    lines: dict[tuple[_Differs, tuple[str, ...]], list[tuple[str, list[Cell]]]] = {}
    for (client, how), found in sorted(differing.items(), key=lambda d: columns.index(d[0][0])):
        held = tuple(str(c.get("network")) for c in found)
        on = () if set(held) == networks[how.scenario] else held
        lines.setdefault((how, on), []).append((client, found))
    made = [
        Finding(
            variant=how.variant,
            scenario=how.scenario,
            verdict=how.verdict,
            clients=tuple(client for client, _ in found),
            reference=how.reference,
            expected=how.expected,
            networks=on,
            cause=cause(found[0][1][0].get("detail")),
            cells=tuple(c for _, those in found for c in those),
        )
        for (how, on), found in lines.items()
    ]
    scenarios = list(networks)

    def order(f: Finding) -> tuple[int, int, int]:
        return variants.index(f.variant), scenarios.index(f.scenario), columns.index(f.clients[0])

    return sorted(made, key=order)


def muted(cells: list[Cell], readers: Readers) -> dict[Mismatch, list[Cell]]:
    """The cells of clients reading a framing they do not parse, by kind of mismatch, the
    most cells first."""
    found: dict[Mismatch, list[Cell]] = {}
    for c in cells:
        mismatch = readers.mismatch(str(c.get("variant")), str(c.get("client")))
        if mismatch:
            found.setdefault(mismatch, []).append(c)
    return dict(sorted(found.items(), key=lambda kv: -len(kv[1])))


def cells_word(count: int) -> str:
    """``1 cell``, ``2 cells``."""
    return f"{count} cell" if count == 1 else f"{count} cells"


def verdict_counts(cells: list[Cell]) -> str:
    """``180 CORRUPT, 2 ERROR``: most first."""
    counts: dict[str, int] = {}
    for c in cells:
        counts[_verdict(c)] = counts.get(_verdict(c), 0) + 1
    return ", ".join(f"{n} {v}" for v, n in sorted(counts.items(), key=lambda kv: -kv[1]))
