"""One Chromium per run; its pages driven over their own channel, reused from cell to cell.

Playwright launches Chromium; the pages live in a browser context the hub creates over
a DevTools session of its own, which Playwright leaves alone, so it does not watch their
network (a DevTools event per chunk and frame, through its driver, cost about 40% of
Chromium's CPU per cell) and starts no cell. A page is the variant server's own blank
page (``/_sc/blank``), so that fetch and EventSource requests are same-origin; it
imports its program, ``page_host.mjs``, from the hub's loopback server (a per-run key in
the path, named in the page's fragment), and the hub then drives it over one WebSocket
as the Node host is driven over its pipes: cells start, stop and take barriers as
messages, and reports come back by the protocol both share (``scripts.js``,
``scripts.py``). The streaming URL is never routed or intercepted.

An app under test (app mode) serves no ``/_sc/blank``: there, Chromium answers that one
URL itself (DevTools ``Fetch`` on the browser's session, paused only for requests that
match ``*/_sc/blank*``), so that pages are on the app's origin without the app's help.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import secrets
import shutil
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

from aiohttp import WSMsgType, web

from streamcompat.harness.hosts.engine import Engine
from streamcompat.harness.hosts.scripts import BLANK_PAGE, ScriptCells, script_config
from streamcompat.harness.kernel.model import ClientFailed, Reporter, Request

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
#: With ``blank_page``: a page Chromium answered itself has no IP address, so Chromium
#: counts it as public and blocks its requests to loopback (Local Network Access; Private
#: Network Access in older builds), the hub's program and the app alike. A page the app
#: served would be loopback itself: these checks would not apply to it.
BLANK_PAGE_FLAGS = [
    "--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests",
]
#: Chromium's limit on HTTP/1.1 connections to one host: a seventh streaming request waits.
CHROMIUM_CONNECTIONS_PER_HOST = 6
SYSTEM_CHROMIUMS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: What the hub serves its pages, by name: their program and the report protocol.
PAGE_FILES = {
    "page_host.mjs": Path(__file__).with_name("page_host.mjs"),
    "scripts.js": Path(__file__).with_name("scripts.js"),
}
#: A new page must load and connect its channel within this.
PAGE_CONNECT_BOUND_S = 30.0
#: The only requests Chromium pauses (``Browser(blank_page=True)``): never a streaming one.
BLANK_PATTERN = "*/_sc/blank*"
#: A cell whose function returned waits this long for its last report to arrive.
LAST_REPORT_BOUND_S = 10.0


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


@dataclass(eq=False)
class Page:
    """One page of the hub: a DevTools target, and its channel once it has connected."""

    number: int
    target: str = ""
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    socket: web.WebSocketResponse | None = None
    finished: dict[str, asyncio.Future[None]] = field(default_factory=dict)  # cell -> returned
    gone: str = ""  # why its channel closed, once it has


class Pages(Protocol):
    """How a browser opens and closes the hub's pages (tabs, windows): by its own protocol."""

    async def open(self, url: str) -> str:
        """Open a page at ``url``; its id, for ``close``."""
        ...

    async def close(self, target: str) -> None: ...


class DevToolsPages:
    """The hub's pages in Chromium: targets in a browser context of the hub's own."""

    def __init__(self, devtools: Any, browser_context: str) -> None:
        self.devtools = devtools  # a browser-wide DevTools session of the hub's own
        self.browser_context = browser_context

    async def open(self, url: str) -> str:
        created = await self.devtools.send(
            "Target.createTarget", {"url": url, "browserContextId": self.browser_context}
        )
        return str(created["targetId"])

    async def close(self, target: str) -> None:
        await self.devtools.send("Target.closeTarget", {"targetId": target})


class BrowserHub:
    """A browser's pages, each running one cell at a time of a driver's JS function."""

    def __init__(self, pages: Pages, tls: ssl.SSLContext | None = None) -> None:
        self.browser_pages = pages
        #: Serve the pages over TLS (the run's certificate): WebKit blocks an HTTPS page's
        #: loopback HTTP as mixed content, which Chromium and Firefox allow.
        self.tls = tls
        self.cells = ScriptCells()
        self.pages: dict[int, Page] = {}
        self.idle: dict[str, list[Page]] = {}  # origin -> pages ready for the next cell
        self.files: dict[str, Path] = dict(PAGE_FILES)  # served to the pages, by name
        self.key = secrets.token_urlsafe(16)
        self.port = 0
        self._numbers = itertools.count(1)
        self._runner: web.AppRunner | None = None

    async def listen(self) -> None:
        """Start the loopback server the pages load their program from and report to."""
        app = web.Application()
        app.router.add_get("/{key}/channel/{page}", self._channel)
        app.router.add_get("/{key}/{name}", self._file)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.tls)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _serve(self, path: Path) -> str:
        """The name under which the pages import ``path``."""
        for name, served in self.files.items():
            if served == path:
                return name
        name = f"{len(self.files)}-{path.name}"
        self.files[name] = path
        return name

    async def _file(self, request: web.Request) -> web.StreamResponse:
        path = self.files.get(request.match_info["name"])
        if request.match_info["key"] != self.key or path is None:
            return web.Response(status=404)
        # The pages are on the variant server's origin: a module import needs CORS.
        headers = {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-store"}
        body = await asyncio.to_thread(path.read_bytes)
        return web.Response(body=body, content_type="text/javascript", headers=headers)

    async def _channel(self, request: web.Request) -> web.StreamResponse:
        page = self.pages.get(int(request.match_info["page"] or 0))
        if request.match_info["key"] != self.key or page is None or page.socket is not None:
            return web.Response(status=403, text="not a page of this run")
        socket = web.WebSocketResponse(max_msg_size=0)  # a batch may hold a 67 KB token
        await socket.prepare(request)
        page.socket = socket
        page.connected.set()
        try:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    continue
                envelope = json.loads(message.data)
                if "finished" in envelope:
                    returned = page.finished.get(str(envelope.get("cell")))
                    if returned is not None and not returned.done():
                        returned.set_result(None)
                else:
                    self.cells.receive(envelope)
        finally:
            self._gone(page, "the page's channel closed")
        return socket

    def _gone(self, page: Page, why: str) -> None:
        """The page can run nothing more: fail what it was running, forget it."""
        page.gone = page.gone or why
        page.socket = None
        page.connected.set()  # a page still connecting learns it never will
        self.pages.pop(page.number, None)
        for returned in page.finished.values():
            if not returned.done():
                returned.set_exception(ClientFailed(f"the browser page went away ({why})"))

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
        while idle and idle[-1].socket is None:  # went away while idle
            idle.pop()
        page = idle.pop() if idle else await self._new_page(origin)
        cell = self.cells.open(request.cell_id, report)
        report.barrier_via(partial(self._barrier, page, request.cell_id))
        report.stop_via(partial(self._send, page, op="abort", cell=request.cell_id))
        returned = page.finished[request.cell_id] = asyncio.get_running_loop().create_future()
        clean = False
        try:
            await self._send(
                page,
                op="start",
                cell=request.cell_id,
                script=self._serve(script),
                function=function,
                modules={name: self._serve(path) for name, path in (modules or {}).items()},
                cfg=script_config(request),
            )
            await returned  # once the cell's function returned and its last report is out
            clean = True
            await cell.finished(LAST_REPORT_BOUND_S)
        finally:
            self.cells.close(request.cell_id)
            page.finished.pop(request.cell_id, None)
            if returned.done() and not returned.cancelled():
                returned.exception()  # retrieved: the page may have gone before it was awaited
            if clean and page.socket is not None:
                idle.append(page)
            else:
                await self._close(page)

    async def _send(self, page: Page, **message: Any) -> None:
        if page.socket is None:
            raise ClientFailed(f"the browser page went away ({page.gone})")
        try:
            await page.socket.send_str(json.dumps(message))
        except ConnectionError as exc:
            raise ClientFailed(f"the browser page went away ({exc})") from exc

    async def _barrier(self, page: Page, cell_id: str) -> float | None:
        """Have the page flush the cell's queued reports and answer after them."""
        if page.socket is None:
            return None  # a closed page: nothing more can come

        async def send(message: dict[str, Any]) -> None:
            await self._send(page, **message)

        try:
            return await self.cells.barrier(cell_id, send)
        except ClientFailed:
            return None

    async def warm(self, origin: str) -> None:
        """Open a page on ``origin`` ahead of the cells, so no cell pays for it."""
        self.idle.setdefault(origin, []).append(await self._new_page(origin))

    async def _new_page(self, origin: str) -> Page:
        page = Page(next(self._numbers))
        self.pages[page.number] = page
        scheme = "https" if self.tls else "http"
        host = f"{scheme}://127.0.0.1:{self.port}/{self.key}/"
        url = f"{origin}/_sc/blank#{urlencode({'host': host, 'page': page.number})}"
        try:
            page.target = await self.browser_pages.open(url)
            await asyncio.wait_for(page.connected.wait(), PAGE_CONNECT_BOUND_S)
        except Exception as exc:
            await self._close(page)
            raise ClientFailed(f"a browser page on {origin} did not start ({exc})") from exc
        if page.socket is None:
            await self._close(page)
            raise ClientFailed(f"a browser page on {origin} did not start ({page.gone})")
        return page

    async def _close(self, page: Page) -> None:
        self._gone(page, "closed by the harness")
        if page.target:
            with contextlib.suppress(Exception):
                await self.browser_pages.close(page.target)


class Browser(Engine):
    """``async with Browser() as browser:`` — launched on first use, always closed."""

    name = "Chromium"

    def __init__(self, blank_page: bool = False, spki: str = "") -> None:
        super().__init__()
        #: Chromium answers ``/_sc/blank`` itself, on any origin (an app has no such page).
        self.blank_page = blank_page
        #: The run's certificate (TLS networks), trusted by its key's hash, as Chromium's
        #: docs suggest for a private CA in tests (``hosts.tls``).
        self.spki = spki
        self._playwright: Any = None
        self._browser: Any = None

    def _cannot_start(self, reason: str) -> str:
        return (
            f"{super()._cannot_start(reason)}."
            " Install one: `apt-get install chromium` (Debian/Ubuntu) or "
            "`python -m playwright install chromium`, or set STREAMCOMPAT_CHROMIUM"
        )

    async def _launch(self) -> BrowserHub:
        from playwright.async_api import async_playwright

        self._playwright = await async_playwright().start()
        self._browser = await self._playwright.chromium.launch(
            executable_path=find_chromium(),
            args=CHROMIUM_FLAGS
            + (BLANK_PAGE_FLAGS if self.blank_page else [])
            + ([f"--ignore-certificate-errors-spki-list={self.spki}"] if self.spki else []),
            headless=True,
        )
        self.version = self._browser.version
        devtools = await self._browser.new_browser_cdp_session()
        # Disposed of with the session; Playwright leaves contexts it did not create alone.
        context = await devtools.send("Target.createBrowserContext", {"disposeOnDetach": True})
        if self.blank_page:
            await _answer_blank_pages(devtools)
        hub = BrowserHub(DevToolsPages(devtools, context["browserContextId"]))
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


async def _answer_blank_pages(devtools: Any) -> None:
    """Have Chromium answer every ``/_sc/blank`` request with the hub's page, whatever the
    origin; requests to other URLs are not paused at all."""
    page = base64.b64encode(BLANK_PAGE.encode()).decode()
    headers = [{"name": "Content-Type", "value": "text/html; charset=utf-8"}]

    async def fulfill(event: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):  # a page closed meanwhile: nothing to answer
            await devtools.send(
                "Fetch.fulfillRequest",
                {
                    "requestId": event["requestId"],
                    "responseCode": 200,
                    "responseHeaders": headers,
                    "body": page,
                },
            )

    tasks: set[asyncio.Task[None]] = set()  # held: the loop keeps only weak references

    def paused(event: dict[str, Any]) -> None:
        task = asyncio.ensure_future(fulfill(event))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    devtools.on("Fetch.requestPaused", paused)
    patterns = [{"urlPattern": BLANK_PATTERN, "requestStage": "Request"}]
    await devtools.send("Fetch.enable", {"patterns": patterns})
