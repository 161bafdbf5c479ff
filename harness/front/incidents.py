"""Exceptions nobody handled, kept for a bug report instead of printed among the verdicts:
the front ends' last line of defence, written to ``harness-errors.log`` in the results."""

from __future__ import annotations

import asyncio
import sys
import traceback
from pathlib import Path
from typing import Any


class Incidents:
    """Exceptions nobody handled — asyncio's "exception was never retrieved", errors in
    ``__del__``, a bug of the harness — kept for a bug report instead of printed as
    tracebacks among the verdicts."""

    FILE = "harness-errors.log"

    def __init__(self) -> None:
        self.records: list[str] = []

    def on_loop(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        trace = "".join(traceback.format_exception(exc)) if exc is not None else ""
        self.records.append(f"{context.get('message', 'asyncio')}\n{trace}")

    def on_unraisable(self, unraisable: Any) -> None:
        exc = unraisable.exc_value
        trace = "".join(traceback.format_exception(exc)) if exc is not None else ""
        said = unraisable.err_msg or "Exception ignored in"
        self.records.append(f"{said}: {unraisable.object!r}\n{trace}")

    def on_crash(self, exc: BaseException) -> None:
        self.records.append("".join(traceback.format_exception(exc)))

    def report(self, folder: Path) -> None:
        """Write what was kept to ``folder`` and say so in one line, if anything was."""
        if not self.records:
            return
        path = folder / self.FILE
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(self.records), encoding="utf-8")
        except OSError as exc:
            where = f"not written ({exc})"
        else:
            where = f"written to {path}"
        print(
            f"streamcompat: {len(self.records)} internal error(s) of the harness, not of the "
            f"code under test; their tracebacks were {where} (please report them)",
            file=sys.stderr,
        )


INCIDENTS = Incidents()
