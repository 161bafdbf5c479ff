"""One report protocol for browser pages and the Node host: harness/hosts/scripts.js and its
Python end, harness/hosts/scripts.py. The end-marker rule is the Python SSE drivers' own."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from pathlib import Path
from textwrap import dedent
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web

from streamcompat.clients.events import show
from streamcompat.harness.hosts import scripts
from streamcompat.harness.hosts.browser import Browser
from streamcompat.harness.hosts.scripts import ScriptCells
from streamcompat.harness.kernel.model import Barrier, ClientFailed, NeverStops, Request
from tests.support import ROOT
from tests.support.servers import serving

PROTOCOL = ROOT / "harness" / "hosts" / "scripts.js"
needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


class Recorder(NeverStops):
    """A Reporter that writes down every call, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.requested = asyncio.Event()
        self.barrier: Barrier | None = None

    def requesting(self, at: float | None = None) -> None:
        self.calls.append(("request", at))
        self.requested.set()

    def opened(self, status: int, content_type: str, at: float | None = None) -> None:
        self.calls.append(("open", status, content_type, at))

    def surfaced(self, payload: str, at: float | None = None) -> None:
        self.calls.append(("unit", payload, at))

    def ended(self, note: str = "", at: float | None = None, replays: bool = False) -> None:
        self.calls.append(("end", note, at, replays))

    def spoke(self, protocol: str, sent_at: float | None = None) -> None:
        self.calls.append(("protocol", protocol))

    def barrier_via(self, barrier: Barrier) -> None:
        self.barrier = barrier


# The Python end: envelopes to Reporter calls.


def test_messages_become_reporter_calls_on_the_harness_clock() -> None:
    async def scenario() -> tuple[Recorder, float]:
        cells, recorder = ScriptCells(), Recorder()
        cell = cells.open("c", recorder)
        batch = [
            {"kind": "request", "t": 1000},
            {"kind": "open", "t": 2000, "status": 200, "contentType": "text/plain"},
            {"kind": "unit", "t": 3000, "payload": "Hello"},
            {"kind": "end", "t": 4000, "note": "end event", "replays": True},
            {"kind": "unit", "t": 5000, "payload": "after the end"},
        ]
        cells.deliver({"cell": "c", "batch": batch})
        cells.deliver({"cell": "another", "batch": batch})  # not running: dropped
        cell.result()
        return recorder, cells.offset

    recorder, offset = asyncio.run(scenario())
    assert recorder.calls == [
        ("request", 1 + offset),
        ("open", 200, "text/plain", 2 + offset),
        ("unit", "Hello", 3 + offset),
        ("end", "end event", 4 + offset, True),
    ]


def test_an_error_message_is_the_cells_failure_and_its_last() -> None:
    async def scenario() -> Recorder:
        cells, recorder = ScriptCells(), Recorder()
        cell = cells.open("c", recorder)
        cells.deliver({"cell": "c", "batch": [{"kind": "error", "t": 1, "message": "HTTP 500"}]})
        cells.deliver({"cell": "c", "batch": [{"kind": "end", "t": 2}]})
        with pytest.raises(ClientFailed, match="HTTP 500"):
            await cell.finished(quiet_bound=5)
        return recorder

    assert asyncio.run(scenario()).calls == []


def test_a_silent_client_fails_after_its_quiet_bound() -> None:
    async def scenario() -> None:
        cell = ScriptCells().open("c", Recorder())
        with pytest.raises(ClientFailed, match=r"reported nothing for 0\.05 s"):
            await cell.finished(quiet_bound=0.05)

    asyncio.run(scenario())


def test_script_clocks_move_onto_the_harness_clock_the_right_way_round(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Fixed clocks: the harness's monotonic clock reads 50 s when the epoch reads
    # 1_700_000_000 s, so a script's 1_700_000_001_500 ms is 1.5 s later: 51.5.
    clocks = SimpleNamespace(time=lambda: 1_700_000_000.0, monotonic=lambda: 50.0)
    monkeypatch.setattr(scripts, "time", clocks)
    assert scripts.epoch_to_monotonic() == 50.0 - 1_700_000_000.0

    async def scenario() -> Recorder:
        cells, recorder = ScriptCells(), Recorder()
        cells.open("c", recorder)
        unit = {"kind": "unit", "t": 1_700_000_001_500, "payload": "x"}
        cells.deliver({"cell": "c", "batch": [unit]})
        return recorder

    assert asyncio.run(scenario()).calls == [("unit", "x", 51.5)]


def test_the_offset_maps_the_real_epoch_clock_onto_the_real_monotonic_one() -> None:
    # A generous bound: the two clocks are read microseconds apart; a wrong sign is off
    # by twice the epoch (decades).
    assert abs(time.time() + scripts.epoch_to_monotonic() - time.monotonic()) < 60


# The JS end, run in Node as it is run in the host.


def _node(body: str) -> Any:
    """Run ``body`` in Node after harness/hosts/scripts.js; it prints one JSON value."""
    program = f"await import({json.dumps(PROTOCOL.as_uri())});\n{body}"
    run = subprocess.run(
        ["node", "--input-type=module", "-e", program],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return json.loads(run.stdout)


END_RULE_CASES = [
    # (event, end_event, end_data, event type, data)
    ("message", "end", None, "message", "Hello"),
    ("message", "end", None, "end", ""),
    ("message", "end", None, "ping", "not a token"),
    ("message", "end", "[DONE]", "message", "[DONE]"),
    ("message", "end", "[DONE]", "message", "[DONE] "),
    ("message", "end", None, "message", "null"),
    ("data", "end", None, "data", "named"),
    ("data", "end", None, "message", "not this type"),
    ("message", "end", None, "error", '{"message": "upstream model failed"}'),
]


@needs_node
def test_the_js_end_marker_rule_is_the_python_one() -> None:
    cases = [
        {"event": e, "endEvent": ee, "endData": ed, "type": t, "data": d}
        for e, ee, ed, t, d in END_RULE_CASES
    ]
    got = _node(
        f"const cases = {json.dumps(cases)};"
        + dedent("""
            console.log(JSON.stringify(cases.map((c) => {
              const reports = [];
              try {
                const ended = streamcompatShow(c, (m) => reports.push(m), c.type, c.data);
                return [ended, reports];
              } catch (error) {
                return [`raised: ${error.message}`, reports];
              }
            })));
        """)
    )
    for (event, end_event, end_data, kind, data), (js_ended, js_reports) in zip(
        END_RULE_CASES, got, strict=True
    ):
        recorder = Recorder()
        request = Request("c", "", "GET", {}, 1, event, end_event, end_data)
        try:
            ended: bool | str = show(kind, data, request, recorder)
        except ClientFailed as exc:
            ended = f"raised: {exc}"
        python = [(c[0], c[1]) if c[0] != "request" else c for c in recorder.calls]
        js = [(m["kind"], m.get("payload", m.get("note"))) for m in js_reports]
        assert (js_ended, js) == (ended, python), (event, end_event, end_data, kind, data)


@needs_node
def test_a_task_reports_in_one_envelope_and_the_first_end_is_the_last() -> None:
    envelopes = _node(
        dedent("""
            const sent = [];
            globalThis.__streamcompat = (envelope) => { sent.push(envelope); };
            await streamcompatRunCell(async (cfg, report) => {
              report({ kind: "request" });
              for (const p of ["a", "b", "c"]) report({ kind: "unit", payload: p });
              await new Promise((resolve) => setTimeout(resolve, 0)); // a later task
              report({ kind: "unit", payload: "d" });
              report({ kind: "end", note: "done" });
              report({ kind: "unit", payload: "after the end" });
              throw new Error("after the end, too");
            }, { cell: "c" });
            console.log(JSON.stringify(sent));
        """)
    )
    assert [[m["kind"] for m in e["batch"]] for e in envelopes] == [
        ["request", "unit", "unit", "unit"],
        ["unit", "end"],
    ]
    assert {e["cell"] for e in envelopes} == {"c"}
    times = [m["t"] for e in envelopes for m in e["batch"]]
    assert times == sorted(times) and times[0] > 1.6e12  # epoch ms, as the page's


@needs_node
def test_what_a_cell_throws_is_its_error_and_so_is_no_end() -> None:
    errors = _node(
        dedent("""
            const sent = [];
            globalThis.__streamcompat = (envelope) => { sent.push(envelope); };
            const cause = new Error("connect ECONNREFUSED");
            const throws = async () => { throw new TypeError("fetch failed", { cause }); };
            await streamcompatRunCell(throws, { cell: "throws" });
            await streamcompatRunCell(async () => {}, { cell: "no-end" });
            const aborted = new AbortController();
            const hangs = () => new Promise(() => {});
            const stopped = streamcompatRunCell(hangs, { cell: "stopped" }, aborted.signal);
            aborted.abort();
            await stopped;
            console.log(JSON.stringify(sent.map((e) => [e.cell, e.batch.map((m) => m.message)])));
        """)
    )
    assert errors == [
        ["throws", ["TypeError: fetch failed: connect ECONNREFUSED"]],
        ["no-end", ["the client returned without reporting an end"]],
    ]  # a stopped cell reports nothing more


# The browser end: the same file in a page, its barrier through the page.


@pytest.mark.browser
def test_a_page_barrier_delivers_what_the_page_queued_before_it(tmp_path: Path) -> None:
    # The page queues units with its timers held back (so nothing but the barrier can send
    # them) and tells the test so on another path (a beacon); the hub's barrier, taken
    # then, must return only after every one of them has arrived.
    script = tmp_path / "holds.js"
    script.write_text(
        dedent("""\
            window.holds = async (cfg, report) => {
              report({ kind: "request" });
              const setTimeout = window.setTimeout;
              for (const round of [1, 2]) {
                const n = Number(await (await fetch("/go")).text());
                window.setTimeout = (fn) => setTimeout(fn, 60000);
                for (let i = 0; i < n; i++) report({ kind: "unit", payload: "x" });
                window.setTimeout = setTimeout;
                navigator.sendBeacon("/queued");
              }
              await new Promise(() => {}); // held open until the test ends the cell
            };
        """)
    )
    go: asyncio.Queue[int] = asyncio.Queue()
    queued: asyncio.Queue[None] = asyncio.Queue()

    async def blank(request: web.Request) -> web.Response:
        from streamcompat.servers.app import (
            BLANK_PAGE,  # the variant server's page: it loads the host
        )

        return web.Response(text=BLANK_PAGE, content_type="text/html")

    async def answer_go(request: web.Request) -> web.Response:
        return web.Response(text=str(await go.get()))

    async def answer_queued(request: web.Request) -> web.Response:
        queued.put_nowait(None)
        return web.Response()

    async def scenario() -> list[int]:
        app = web.Application()
        app.router.add_get("/_sc/blank", blank)
        app.router.add_get("/go", answer_go)
        app.router.add_post("/queued", answer_queued)
        async with serving(app) as origin, Browser() as browser:
            hub = await browser.hub()
            recorder = Recorder()
            request = Request("cell", f"{origin}/", "GET", {}, 10)
            cell = asyncio.ensure_future(hub.run(script, "holds", request, recorder))
            delivered = []
            try:
                await asyncio.wait_for(recorder.requested.wait(), 10)
                assert recorder.barrier is not None
                for n in (50, 25):
                    go.put_nowait(n)
                    await asyncio.wait_for(queued.get(), 10)
                    asked = time.monotonic()
                    lead = await asyncio.wait_for(recorder.barrier(), 10)  # the page is busy
                    delivered.append(sum(1 for c in recorder.calls if c[0] == "unit"))
                    # The page stamped the barrier by its own clock: mapped, that stamp
                    # fell between asking and answer (within performance.now()'s rounding).
                    assert lead is not None
                    assert -(time.monotonic() - asked) - 0.002 <= lead <= 0.002
                return delivered
            finally:
                cell.cancel()
                await asyncio.wait({cell}, timeout=10)

    assert asyncio.run(scenario()) == [50, 75]


@pytest.mark.browser
def test_a_page_that_goes_away_fails_its_cell_and_the_next_cell_gets_a_new_page(
    tmp_path: Path,
) -> None:
    script = tmp_path / "waits.js"
    script.write_text(
        dedent("""\
            window.waits = async (cfg, report) => {
              report({ kind: "request" });
              if (cfg.url.endsWith("/hold")) await new Promise(() => {});
              report({ kind: "end" });
            };
        """)
    )

    async def blank(request: web.Request) -> web.Response:
        from streamcompat.servers.app import BLANK_PAGE

        return web.Response(text=BLANK_PAGE, content_type="text/html")

    async def scenario() -> tuple[str, list[str], bool]:
        app = web.Application()
        app.router.add_get("/_sc/blank", blank)
        async with serving(app) as origin, Browser() as browser:
            hub = await browser.hub()
            first, second = Recorder(), Recorder()
            held = asyncio.ensure_future(
                hub.run(script, "waits", Request("one", f"{origin}/hold", "GET", {}, 10), first)
            )
            await asyncio.wait_for(first.requested.wait(), 10)
            (page,) = hub.pages.values()
            await hub.browser_pages.close(page.target)  # as if the tab went away
            with pytest.raises(ClientFailed) as failed:
                await asyncio.wait_for(held, 10)
            request = Request("two", f"{origin}/end", "GET", {}, 10)
            await asyncio.wait_for(hub.run(script, "waits", request, second), 10)
            (other,) = hub.pages.values()
            return str(failed.value), [c[0] for c in second.calls], other is not page

    why, calls, new_page = asyncio.run(scenario())
    assert "the browser page went away" in why
    assert calls == ["request", "end"] and new_page
