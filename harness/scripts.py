"""Reports from client scripts (browser pages, Node processes), as Reporter calls.

A script sends JSON messages ``{"kind": "request" | "open" | "unit" | "end" | "error",
"t": <epoch ms>, ...}``; ``t`` is ``performance.timeOrigin + performance.now()`` where
the client ran, moved onto the harness's monotonic clock by a fixed offset.
"""

from __future__ import annotations

import time
from typing import Any

from harness.model import ClientFailed, Reporter


def epoch_to_monotonic() -> float:
    """Add this to epoch seconds to get the harness's (monotonic) clock."""
    return time.monotonic() - time.time()


def deliver(message: dict[str, Any], report: Reporter, offset: float) -> bool:
    """Pass one message on to the harness; True once the client is done."""
    at = float(message["t"]) / 1000 + offset
    kind = message.get("kind")
    if kind == "request":
        report.requesting(at)
    elif kind == "open":
        report.opened(int(message.get("status", 0)), str(message.get("contentType", "")), at)
    elif kind == "unit":
        report.surfaced(str(message.get("payload", "")), at)
    elif kind == "end":
        report.ended(str(message.get("note", "")), at, bool(message.get("replays")))
        return True
    elif kind == "error":
        raise ClientFailed(str(message.get("message", "")))
    return False
