"""The wire view of a cell: what the server sent, byte for byte, invisible bytes named."""

from __future__ import annotations

import re
from typing import Any

from streamcompat.harness.kernel.networks import network as network_record
from streamcompat.harness.outputs.reports.cells import Cell, _ms, _number
from streamcompat.harness.outputs.reports.timeline import _h

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
    between = _between(network)
    if between and not cell.get("app"):
        notes.append(f"the {network} network's proxy then reshaped them for the client")
    more = f" ({'; '.join(notes)})" if notes else ""
    return (
        f'<details class="wire"><summary>what {sender}: {_h(words)}{_h(more)}</summary>'
        f'<table class="wire">{"".join(rows)}</table></details>'
    )


def _between(network: str) -> bool:
    """Whether something other than the server wrote what the client read (an unknown
    network, from an older index, is taken to be something)."""
    try:
        return network_record(network).between
    except KeyError:
        return True
