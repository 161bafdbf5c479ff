"""The SVG timeline of a cell: when each token was emitted and when the client showed it."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any

from streamcompat.harness.outputs.reports.cells import KNOWN, Cell, _key, _ms, _number, _times


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
