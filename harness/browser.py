"""One Chromium per run, driven by Playwright's async API; pages reused from cell to cell.

The page is loaded from the variant server's own origin so that fetch and
EventSource requests are same-origin. The streaming URL is never routed or
intercepted (``route.fulfill`` buffers). Pages report by the protocol the Node host
shares (``scripts.js``, ``scripts.py``), over a WebSocket to the harness
(``page_channel.js``): a loopback server of the hub's, which takes only its own pages
(a per-run key in the path). Playwright starts each cell; reports and barriers do not
go through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from harness.model import ClientFailed, Reporter, Request
from harness.scripts import ScriptCells, script_config

#: Needed on locked-down machines (root, no GPU, closed network); harmless elsewhere.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
#: Chromium's limit on HTTP/1.1 connections to one host: a seventh streaming request waits.
CHROMIUM_CONNECTIONS_PER_HOST = 6
SYSTEM_CHROMIUMS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PROTOCOL = Path(__file__).with_name("scripts.js")
CHANNEL = Path(__file__).with_name("page_channel.js")  # connects a page's reports
RUN_CELL = "([name, cfg]) => streamcompatRunCell(window[name], cfg)"
#: A cell whose function returned waits this long for its last report to arrive.
LAST_REPORT_BOUND_S = 10.0
#: Imports an ES module from its source text (a blob: URL: no server, no route involved).
IMPORT_MODULE = """async ([name, source]) => {
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  try { window[name] = await import(url); } finally { URL.revokeObjectURL(url); }
}"""


def find_chromium() -> str | None:
    """A system Chromium (STREAMCOMPAT_CHROMIUM, then PATH); None means Playwright's own.

    ``STREAMCOMPAT_CHROMIUM=playwright`` asks for Playwright's own build even where a
    system browser exists (CI runners that have Google Chrome, for instance).
    """
    configured = os.environ.get("STREAMCOMPAT_CHROMIUM")
    if configured == "playwright":
        return None
    if configured:
        return configured
    for name in SYSTEM_CHROMIUMS:
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserHub:
    """A launched browser context that runs a driver's JS function in a page."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.cells = ScriptCells()
        self.idle: dict[str, list[Any]] = {}  # origin -> pages ready for the next cell
        self.loaded: dict[int, set[Path]] = {}  # id(page) -> scripts added to it
        self.key = secrets.token_urlsafe(16)
        self.channels: dict[int, web.WebSocketResponse] = {}  # id(page) -> its socket
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def listen(self) -> None:
        """Start the loopback WebSocket server the pages report to."""
        app = web.Application()
        app.router.add_get("/report/{key}/{page}", self._channel)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _channel(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["key"] != self.key:
            return web.Response(status=403, text="not a page of this run")
        page = int(request.match_info["page"])
        socket = web.WebSocketResponse(max_msg_size=0)  # a batch may hold a 67 KB token
        await socket.prepare(request)
        self.channels[page] = socket
        try:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    continue
                self.cells.receive(json.loads(message.data))
        finally:
            if self.channels.get(page) is socket:
                del self.channels[page]
        return socket

    async def run(
        self,
        script: Path,
        function: str,
        request: Request,
        report: Reporter,
        modules: Mapping[str, Path] | None = None,
    ) -> None:
        """Run ``window[function](cfg, report, signal)`` from ``script`` in a page.

        Raises ClientFailed with the client's error. ``modules`` are single-file ES
        modules the script uses (e.g. an npm package's ESM build), imported once per
        page, each module's namespace at ``window[name]``.

        Pages are reused from cell to cell (a new one costs ~100 ms); a page whose cell
        did not end cleanly is closed, so nothing of it can leak into the next cell.
        Cells running at once each get their own page.
        """
        parts = urlsplit(request.url)
        origin = f"{parts.scheme}://{parts.netloc}"
        idle = self.idle.setdefault(origin, [])
        page = idle.pop() if idle else await self._new_page(origin)
        cell = self.cells.open(request.cell_id, report)
        report.barrier_via(partial(self._barrier, id(page), request.cell_id))
        clean = False
        try:
            loaded = self.loaded.setdefault(id(page), set())
            for name, module in (modules or {}).items():
                if module not in loaded:
                    await page.evaluate(IMPORT_MODULE, [name, module.read_text(encoding="utf-8")])
                    loaded.add(module)
            if script not in loaded:
                await page.add_script_tag(content=script.read_text(encoding="utf-8"))
                loaded.add(script)
            # Resolves once the cell's last report is sent: its end or its error.
            await page.evaluate(RUN_CELL, [function, script_config(request)])
            clean = True
            await cell.finished(LAST_REPORT_BOUND_S)
        finally:
            self.cells.close(request.cell_id)
            if clean:
                idle.append(page)
            else:
                self.loaded.pop(id(page), None)
                with contextlib.suppress(Exception):
                    await page.close()

    async def _barrier(self, page: int, cell_id: str) -> None:
        """Have the page flush the cell's queued reports and answer after them."""
        channel = self.channels.get(page)
        if channel is None:
            return  # a closed page: nothing more can come

        async def send(message: dict[str, Any]) -> None:
            await channel.send_str(json.dumps(message))

        with contextlib.suppress(ConnectionError):
            await self.cells.barrier(cell_id, send)

    async def warm(self, origin: str) -> None:
        """Open a page on ``origin`` ahead of the cells, so no cell pays for it."""
        self.idle.setdefault(origin, []).append(await self._new_page(origin))

    async def _new_page(self, origin: str) -> Any:
        page = await self.context.new_page()
        await page.goto(f"{origin}/_sc/blank")
        await page.add_script_tag(content=PROTOCOL.read_text(encoding="utf-8"))
        url = f"ws://127.0.0.1:{self.port}/report/{self.key}/{id(page)}"
        await page.evaluate(CHANNEL.read_text(encoding="utf-8"), url)
        return page


class Browser:
    """``async with Browser() as browser:`` — launched on first use, always closed."""

    def __init__(self) -> None:
        self._playwright: Any = None
        self._browser: Any = None
        self._hub: BrowserHub | None = None
        self._failure: str = ""
        self._launching = asyncio.Lock()
        self.version = ""

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def hub(self) -> BrowserHub:
        async with self._launching:  # one launch, however many cells ask at once
            return await self._hub_once()

    async def _hub_once(self) -> BrowserHub:
        if self._hub is not None:
            return self._hub
        if self._failure:
            raise ClientFailed(self._failure)
        try:
            self._hub = await self._launch()
        except Exception as exc:
            await self.close()
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            self._failure = (
                f"Chromium could not be started ({reason})."
                " Install one: `apt-get install chromium` (Debian/Ubuntu) or "
                "`python -m playwright install chromium`, or set STREAMCOMPAT_CHROMIUM"
            )
            raise ClientFailed(self._failure) from exc
        return self._hub

    async def _launch(self) -> BrowserHub:
        from playwright.async_api import async_playwright

        self._playwright = await async_playwright().start()
        self._browser = await self._playwright.chromium.launch(
            executable_path=find_chromium(), args=CHROMIUM_FLAGS, headless=True
        )
        self.version = self._browser.version
        context = await self._browser.new_context()
        hub = BrowserHub(context)
        await hub.listen()
        return hub

    async def close(self) -> None:
        browser, self._browser = self._browser, None
        playwright, self._playwright = self._playwright, None
        hub, self._hub = self._hub, None
        if browser is not None:
            with contextlib.suppress(Exception):
                await browser.close()
        if playwright is not None:
            with contextlib.suppress(Exception):
                await playwright.stop()
        if hub is not None:
            await hub.close()
