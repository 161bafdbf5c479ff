"""Reports from client scripts (browser pages, the Node host), as Reporter calls.

The Python end of ``harness/hosts/scripts.js``, for both hubs. A script sends envelopes
``{"cell": id, "batch": [message, ...]}``; a message is ``{"kind": "request" | "open" |
"unit" | "end" | "error" | "aborted" | "protocol", "t": <epoch ms>, ...}``, ``t`` being
``performance.timeOrigin + performance.now()`` where the client ran, moved onto the
harness's monotonic clock by a fixed offset. A cell's first ``end``, ``error`` or
``aborted`` is its last message.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from streamcompat.harness.kernel.model import ClientFailed, Reporter, Request

# The browser host's page (harness/hosts/browser.py), served at /_sc/blank by the variant server
# (or, on an app's origin, by Chromium itself: ``Browser(blank_page=True)``). It imports
# its program from the harness, whose loopback address comes in the fragment:
# #host=http://127.0.0.1:<port>/<key>/&page=<n> (https: a hub that speaks TLS, for an
# engine that will not load loopback HTTP into an HTTPS page: WebKit). ``PAGE_START`` is
# its script, which WebKit runs by WebDriver in whatever an app answers at that path.
PAGE_START = r"""const host = new URLSearchParams(location.hash.slice(1)).get("host") ?? "";
if (/^https?:\/\/127\.0\.0\.1:\d+\/[\w-]+\/$/.test(host)) import(host + "page_host.mjs");"""
BLANK_PAGE = f"""<!doctype html><meta charset=utf-8><title>streamcompat</title>
<script type=module>
{PAGE_START}
</script>
"""


def epoch_to_monotonic() -> float:
    """Add this to epoch seconds to get the harness's (monotonic) clock."""
    return time.monotonic() - time.time()


def script_config(request: Request) -> dict[str, Any]:
    """What a script's cell function gets as ``cfg``."""
    return {
        "cell": request.cell_id,
        "url": request.url,
        "method": request.method,
        "body": request.body,
        "event": request.event,  # SSE clients: the token events' type and the end markers
        "endEvent": request.end_event,
        "endData": request.end_data,
        "firstUrl": request.first_url,  # the keep-alive scenario's first request ("": none)
    }


class ScriptCell:
    """The harness's end of one cell run by a script: its reports, then how it ended."""

    def __init__(self, report: Reporter, offset: float) -> None:
        self.report = report
        self.offset = offset
        self.over = asyncio.Event()  # its end or error arrived, or its host died
        self.failure = ""
        self.heard_at = time.monotonic()

    def deliver(self, batch: Sequence[Mapping[str, Any]]) -> None:
        """Pass a batch of messages on to the Reporter; nothing after the last one."""
        self.heard_at = time.monotonic()
        for message in batch:
            if message.get("kind") == "protocol":  # no report of the user's: may come last
                sent = message.get("sent")
                sent_at = float(sent) / 1000 + self.offset if sent else None
                self.report.spoke(str(message.get("protocol", "")), sent_at)
                continue
            if self.over.is_set():
                return
            at = float(message["t"]) / 1000 + self.offset
            kind = message.get("kind")
            if kind == "request":
                self.report.requesting(at)
            elif kind == "open":
                status, content_type = message.get("status", 0), message.get("contentType", "")
                self.report.opened(int(status), str(content_type), at)
            elif kind == "unit":
                self.report.surfaced(str(message.get("payload", "")), at)
            elif kind == "end":
                self.report.ended(str(message.get("note", "")), at, bool(message.get("replays")))
                self.over.set()
            elif kind == "aborted":
                self.report.aborted(at)
                self.over.set()
            elif kind == "error":
                self.fail(str(message.get("message", "")) or "the client failed, saying nothing")

    def fail(self, why: str) -> None:
        if not self.over.is_set():
            self.failure = why
            self.over.set()

    def result(self) -> None:
        """Return if the client reported its end; raise ClientFailed with its error."""
        if self.failure:
            raise ClientFailed(self.failure)
        if not self.over.is_set():
            raise ClientFailed("the client stopped without reporting an end")

    async def finished(self, quiet_bound: float) -> None:
        """Wait for the cell's last message; ClientFailed if it says nothing for ``quiet_bound``."""
        while not self.over.is_set():
            remaining = self.heard_at + quiet_bound - time.monotonic()
            if remaining <= 0:
                raise ClientFailed(f"the client reported nothing for {quiet_bound:g} s")
            # On a timeout, look again: a report may have moved heard_at on.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.over.wait(), remaining)
        self.result()


class ScriptCells:
    """The cells a hub is running, by id: where every envelope from its scripts goes,
    and the report barriers the hub has asked its scripts for."""

    def __init__(self) -> None:
        self.running: dict[str, ScriptCell] = {}
        # Script clocks are epoch milliseconds; the harness uses the monotonic clock.
        self.offset = epoch_to_monotonic()
        self.barriers: dict[int, asyncio.Future[float | None]] = {}
        self.barrier_ids = itertools.count()

    def receive(self, envelope: Mapping[str, Any]) -> None:
        """An envelope from a script: a batch of a cell's reports, or a barrier's answer."""
        if "barrier" in envelope:
            answered = self.barriers.get(int(envelope["barrier"]))
            if answered is not None and not answered.done():
                stamp = envelope.get("t")  # when the script took the barrier, by its clock
                answered.set_result(float(stamp) / 1000 + self.offset if stamp else None)
        else:
            self.deliver(envelope)

    async def barrier(
        self, cell_id: str, send: Callable[[dict[str, Any]], Awaitable[None]]
    ) -> float | None:
        """Ask the script (``send``) to answer once the cell's queued reports are out; the
        answer comes on the same ordered channel, so they have all arrived when it does.

        The answer carries the script's clock when it took the barrier, which was between
        the asking and the answer by the harness's: how far ahead the script's clock reads,
        mapped, is then at least its stamp less the answer's arrival (``Barrier``).
        """
        if cell_id not in self.running:
            return None  # nothing more of it can come
        key = next(self.barrier_ids)
        answered = self.barriers[key] = asyncio.get_running_loop().create_future()
        try:
            await send({"op": "barrier", "cell": cell_id, "id": key})
            stamp = await answered
        finally:
            self.barriers.pop(key, None)
        return None if stamp is None else stamp - time.monotonic()

    def end_barriers(self) -> None:
        """The channel is gone: nothing more will be delivered, so no barrier waits."""
        for answered in self.barriers.values():
            if not answered.done():
                answered.set_result(None)

    def open(self, cell_id: str, report: Reporter) -> ScriptCell:
        cell = self.running[cell_id] = ScriptCell(report, self.offset)
        return cell

    def close(self, cell_id: str) -> None:
        self.running.pop(cell_id, None)

    def deliver(self, envelope: Mapping[str, Any]) -> None:
        cell = self.running.get(str(envelope.get("cell")))
        if cell is not None:  # else a cell the harness is already done with
            cell.deliver(envelope.get("batch") or [])

    def fail_all(self, why: str) -> None:
        for cell in self.running.values():
            cell.fail(why)
