"""One Chromium per run, driven by Playwright's async API; a fresh page per cell.

The page is loaded from the variant server's own origin so that fetch and
EventSource requests are same-origin. The streaming URL is never routed or
intercepted (``route.fulfill`` buffers). Pages timestamp what they surface with
``performance.timeOrigin + performance.now()`` and report through a binding, in
batches (``browser_report.js``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from harness.model import ClientFailed, Reporter, Request
from harness.scripts import deliver, epoch_to_monotonic

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
SYSTEM_CHROMIUMS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BINDING = "__streamcompat"
REPORTER = Path(__file__).with_name("browser_report.js")  # batches a page's reports
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
    """A launched browser context that runs a driver's JS function in a fresh page."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.reporters: dict[str, Reporter] = {}
        self.idle: dict[str, list[Any]] = {}  # origin -> pages ready for the next cell
        self.loaded: dict[int, set[Path]] = {}  # id(page) -> scripts added to it
        # Page clocks are epoch milliseconds; the harness uses the monotonic clock.
        self.epoch_to_monotonic = epoch_to_monotonic()

    def _report(self, source: Any, batch: dict[str, Any]) -> None:
        reporter = self.reporters.get(str(batch.get("cell")))
        if reporter is None:
            return  # a page of a cell that already ended
        for message in batch.get("batch", []):
            if message.get("kind") != "error":  # a page's error is its function's result
                deliver(message, reporter, self.epoch_to_monotonic)

    async def run(
        self,
        script: Path,
        function: str,
        request: Request,
        report: Reporter,
        modules: Mapping[str, Path] | None = None,
    ) -> None:
        """Run ``window[function](cfg)`` from ``script`` in a page; raise on its error.

        ``modules`` are single-file ES modules the script uses (e.g. an npm package's
        ESM build), imported once per page, each module's namespace at ``window[name]``.

        Pages are reused from cell to cell (a new one costs ~100 ms); a page whose cell
        did not end cleanly is closed, so nothing of it can leak into the next cell.
        Cells running at once each get their own page.
        """
        parts = urlsplit(request.url)
        origin = f"{parts.scheme}://{parts.netloc}"
        idle = self.idle.setdefault(origin, [])
        page = idle.pop() if idle else await self._new_page(origin)
        self.reporters[request.cell_id] = report
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
            config = {
                "cell": request.cell_id,
                "url": request.url,
                "method": request.method,
                "body": request.body,
                "event": request.event,
                "endEvent": request.end_event,
                "endData": request.end_data,
            }
            try:
                error = await page.evaluate(f"cfg => window.{function}(cfg)", config)
            finally:
                with contextlib.suppress(Exception):
                    await page.evaluate("() => window.streamcompatFlushAll()")
            clean = True
            if error:
                raise ClientFailed(str(error))
        finally:
            self.reporters.pop(request.cell_id, None)
            if clean:
                idle.append(page)
            else:
                self.loaded.pop(id(page), None)
                with contextlib.suppress(Exception):
                    await page.close()

    async def warm(self, origin: str) -> None:
        """Open a page on ``origin`` ahead of the cells, so no cell pays for it."""
        self.idle.setdefault(origin, []).append(await self._new_page(origin))

    async def _new_page(self, origin: str) -> Any:
        page = await self.context.new_page()
        await page.goto(f"{origin}/_sc/blank")
        await page.add_script_tag(content=REPORTER.read_text(encoding="utf-8"))
        return page


class Browser:
    """``async with Browser() as browser:`` — launched on first use, always closed."""

    def __init__(self) -> None:
        self._playwright: Any = None
        self._browser: Any = None
        self._hub: BrowserHub | None = None
        self._failure: str = ""
        self.version = ""

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def hub(self) -> BrowserHub:
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
        await context.expose_binding(BINDING, hub._report)
        return hub

    async def close(self) -> None:
        browser, self._browser = self._browser, None
        playwright, self._playwright = self._playwright, None
        self._hub = None
        if browser is not None:
            with contextlib.suppress(Exception):
                await browser.close()
        if playwright is not None:
            with contextlib.suppress(Exception):
                await playwright.stop()
