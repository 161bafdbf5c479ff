"""One WebKit per run (WebKitGTK's MiniBrowser), its pages driven as Chromium's are
(``browser.BrowserHub``).

WebKitGTK has no headless mode: the harness starts a display of the run's own (``Xvfb``,
which says its display number once it accepts clients), then ``WebKitWebDriver`` on
127.0.0.1 (a port it chose, read from /proc), both in process groups of their own that die
with the harness and are ended by PID (``processes``). WebKitWebDriver speaks WebDriver
*classic* (HTTP; this build serves no BiDi): one session starts MiniBrowser in automation
mode, its web and network processes in the driver's process group. The hub needs a few
commands of it: a window (placed beside the others), a navigation, a close; in app mode a
script that starts the page (``WebKitWindows``). Everything a page does goes
through the page's own channel, as in every engine: the page imports ``page_host.mjs`` from
the hub and reports over one WebSocket by the shared report protocol, in order, so a
barrier's answer still comes after every report queued before it (no polling by the
harness, no verdict by when it heard).

WebKit rounds ``performance.now()`` down to whole milliseconds, and ``performance.timeOrigin``
too (measured with 2.50): a stamp may read up to 2 ms early. The origin's part is the same
in every stamp of a page, so a report barrier's stamped answer bounds it, and the verdicts
add the 1 ms of ``now()`` (``verdicts.clock_slack``), as for every script clock.

On a TLS network, the session is given the run's server certificate for 127.0.0.1 and
localhost (``webkitgtk:browserOptions.certificates``): an exception for that certificate on
those hosts, for the session only, as a user accepts a certificate in the browser. GnuTLS's
CA store is the system's (root, and it would outlive the run). WebKit blocks loopback HTTP
in an HTTPS page (mixed content), so the hub then serves the pages over TLS too.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import ssl
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from streamcompat.harness.hosts.browser import BrowserHub
from streamcompat.harness.hosts.engine import Engine
from streamcompat.harness.hosts.processes import end, exited, listening, spawn
from streamcompat.harness.hosts.scripts import PAGE_START
from streamcompat.harness.hosts.tls import HOSTS, Authority
from streamcompat.harness.kernel.model import ClientFailed

#: What ``streamcompat setup webkit`` installs (a program -> its Debian package).
WEBKIT_PACKAGES = {"WebKitWebDriver": "webkit2gtk-driver", "Xvfb": "xvfb"}
#: Where Debian and Ubuntu put WebKitGTK's MiniBrowser (GTK 3: 4.1, 4.0; GTK 4: 6.0).
MINIBROWSERS = "/usr/lib/*/webkit2gtk-*/MiniBrowser"
#: libsoup's limit on connections to one host, as WebKit sets it (measured: a seventh
#: streaming request waits).
WEBKIT_CONNECTIONS_PER_HOST = 6
#: The display, the driver and a session must be up within this (a cold start of the
#: browser on a loaded 2-core machine takes seconds).
LAUNCH_BOUND_S = 60.0
#: One WebDriver command (a window, a navigation, a close) must be answered within this.
COMMAND_BOUND_S = 30.0
POLL_S = 0.05  # between looks at what the driver listens on, waiting for it to exit
#: Each page its own window, side by side on the display: a window under another would
#: count as hidden (its timers throttled).
SCREEN = (4096, 2048)
WINDOW = (512, 384)
TAIL_LINES = 20  # of the driver's and browser's output, kept to say why it did not start


def find_webkit() -> tuple[str, str] | None:
    """WebKitWebDriver and the browser it drives (``STREAMCOMPAT_WEBKIT``, a MiniBrowser or
    another WebKitGTK browser that takes ``--automation``), or None."""
    driver = shutil.which("WebKitWebDriver")
    browser = os.environ.get("STREAMCOMPAT_WEBKIT") or next(
        iter(sorted(glob.glob(MINIBROWSERS))), ""
    )
    if driver is None or not browser or not os.access(browser, os.X_OK):
        return None
    return driver, browser


def missing() -> str:
    """Why the WebKit columns cannot run here ("": they can)."""
    lacking = [name for name in WEBKIT_PACKAGES if shutil.which(name) is None]
    if find_webkit() is None and "WebKitWebDriver" not in lacking:
        lacking.append("MiniBrowser")
    if not lacking:
        return ""
    packages = " ".join(WEBKIT_PACKAGES.get(name, "webkit2gtk-driver") for name in lacking)
    return (
        f"WebKit not installed ({', '.join(lacking)} missing: `streamcompat setup webkit`, "
        f"or `apt-get install {packages}` on Debian/Ubuntu; or set STREAMCOMPAT_WEBKIT)"
    )


class WebDriver:
    """A WebDriver classic session over HTTP: one command at a time, each bounded."""

    def __init__(self, http: aiohttp.ClientSession, address: str) -> None:
        self.http = http
        self.address = address
        self.session = ""

    async def send(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        base = f"{self.address}/session/{self.session}" if self.session else self.address
        try:
            async with self.http.request(
                method, f"{base}{path}", json=body, timeout=aiohttp.ClientTimeout(COMMAND_BOUND_S)
            ) as response:
                answer = await response.json(content_type=None)
        except asyncio.TimeoutError:
            raise ClientFailed(
                f"WebKitWebDriver did not answer {method} {path} within {COMMAND_BOUND_S:g} s"
            ) from None
        except (aiohttp.ClientError, ValueError) as exc:
            raise ClientFailed(f"WebKitWebDriver went away ({exc})") from exc
        value = answer.get("value") if isinstance(answer, dict) else None
        if response.status != 200:
            why = value if isinstance(value, dict) else {}
            said = f"{why.get('error', response.status)}: {why.get('message', '')}".strip(": ")
            raise ClientFailed(f"WebKit refused {method} {path or '/'}: {said}")
        return value


class WebKitWindows:
    """The hub's pages in WebKit: each a window of its own, beside the others. WebDriver
    classic acts on one current window, so a page is opened or closed whole at a time."""

    def __init__(self, driver: WebDriver, home: str, start_pages: bool = False) -> None:
        self.driver = driver
        #: Start each page's program by WebDriver (app mode: the app serves no blank page).
        self.start_pages = start_pages
        #: The session's first window, never closed: WebDriver classic opens a window
        #: from the current one, and ends the session with its last.
        self.home = home
        self._turn = asyncio.Lock()
        self._places = 0

    async def open(self, url: str) -> str:
        async with self._turn:
            created = await self.driver.send("POST", "/window/new", {"type": "window"})
            handle = str(created["handle"])
            await self.driver.send("POST", "/window", {"handle": handle})
            await self.driver.send("POST", "/window/rect", self._place())
            # pageLoadStrategy "none": the page's channel connecting is what the hub awaits;
            # "eager" in app mode: the app's answer is loaded, then given the program.
            await self.driver.send("POST", "/url", {"url": url})
            if self.start_pages:
                await self.driver.send("POST", "/execute/sync", {"script": PAGE_START, "args": []})
            return handle

    def _place(self) -> dict[str, int]:
        across = SCREEN[0] // WINDOW[0]
        place = self._places % (across * (SCREEN[1] // WINDOW[1]))
        self._places += 1
        x, y = place % across * WINDOW[0], place // across * WINDOW[1]
        return {"x": x, "y": y, "width": WINDOW[0], "height": WINDOW[1]}

    async def close(self, target: str) -> None:
        async with self._turn:
            try:
                await self.driver.send("POST", "/window", {"handle": target})
                await self.driver.send("DELETE", "/window")
            finally:
                await self.driver.send("POST", "/window", {"handle": self.home})


class WebKit(Engine):
    """``async with WebKit() as webkit:`` — launched on first use, always ended by PID."""

    name = "WebKit"

    def __init__(self, tls: Authority | None = None, blank_page: bool = False) -> None:
        super().__init__()
        self.tls = tls  # the run's certificate (TLS networks)
        #: An app under test serves no ``/_sc/blank``, and WebDriver classic cannot answer
        #: one in its place: a page is then whatever the app answers there (its origin is
        #: the app's), given its program by WebDriver's script execution.
        self.blank_page = blank_page
        self._display: subprocess.Popen[bytes] | None = None
        self._driver_process: subprocess.Popen[bytes] | None = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._driver: WebDriver | None = None

    def pages_ahead(self, jobs: int) -> int:
        """Pages to open on each origin before the cells: one per cell that may run at
        once (a window and its first load cost about as much as Firefox's)."""
        return jobs

    async def _launch(self) -> BrowserHub:
        found = find_webkit()
        if found is None:
            raise ClientFailed(missing())
        driver, browser = found
        display = await self._start_display()
        # The driver's and browser's output (its tail says why a start failed), and
        # whatever the browser would keep between runs: in a folder of the run's own.
        self._folder = tempfile.TemporaryDirectory(prefix="streamcompat-webkit-")
        folder = Path(self._folder.name)
        env = {**os.environ, "DISPLAY": display, "NO_AT_BRIDGE": "1", "GDK_BACKEND": "x11"}
        env |= {f"XDG_{kind}_HOME": str(folder) for kind in ("CACHE", "CONFIG", "DATA")}
        with open(folder / "webkit.log", "wb") as log:  # the driver writes to its own copy
            command = [driver, "--host=127.0.0.1", "--port=0"]
            self._driver_process = spawn(command, listener=None, env=env, log=log)
        address = await self._driver_address(self._driver_process)
        self._http = aiohttp.ClientSession()
        self._driver = WebDriver(self._http, address)
        options: dict[str, Any] = {"binary": browser, "args": ["--automation"]}
        if self.tls:
            options["certificates"] = [
                {"host": host, "certificateFile": str(self.tls.cert)} for host in HOSTS
            ]
        capabilities = {
            "pageLoadStrategy": "eager" if self.blank_page else "none",
            "proxy": {"proxyType": "direct"},  # straight to loopback, whatever the env says
            "webkitgtk:browserOptions": options,
        }
        created = await self._driver.send(
            "POST", "/session", {"capabilities": {"alwaysMatch": capabilities}}
        )
        self._driver.session = str(created["sessionId"])
        self.version = str(created.get("capabilities", {}).get("browserVersion", "")).strip()
        home = str(await self._driver.send("GET", "/window"))
        hub = BrowserHub(
            WebKitWindows(self._driver, home, start_pages=self.blank_page), tls=self._hub_tls()
        )
        await hub.listen()
        return hub

    def _hub_tls(self) -> ssl.SSLContext | None:
        """On a TLS run, the hub too speaks TLS, with the run's certificate: WebKit will not
        load loopback HTTP into an HTTPS page (mixed content)."""
        if self.tls is None:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.tls.cert, self.tls.key)
        return context

    async def _start_display(self) -> str:
        """Start Xvfb on a free display; its name once it accepts clients (``-displayfd``)."""
        said, told = os.pipe()
        try:
            command = ["Xvfb", "-displayfd", str(told), "-nolisten", "tcp", "-noreset",
                       "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24"]  # fmt: skip
            self._display = spawn(command, listener=None, pass_fds=[told])
        finally:
            os.close(told)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        pipe = os.fdopen(said, "rb", buffering=0)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe
        )
        try:
            number = await asyncio.wait_for(reader.readline(), LAUNCH_BOUND_S)
        except asyncio.TimeoutError:
            raise ClientFailed(f"Xvfb gave no display within {LAUNCH_BOUND_S:g} s") from None
        finally:
            transport.close()
        if not number.strip():  # it closed the pipe without a number: it has exited
            raise ClientFailed("Xvfb exited before it gave a display")
        return f":{number.decode().strip()}"

    async def _driver_address(self, process: subprocess.Popen[bytes]) -> str:
        """Where WebKitWebDriver listens (it chose the port): read from /proc, bounded."""
        deadline = time.monotonic() + LAUNCH_BOUND_S
        while time.monotonic() < deadline:
            ports = [port for host, port in listening(process.pid) if host == "127.0.0.1"]
            if ports:
                return f"http://127.0.0.1:{ports[0]}"
            if await exited(process, POLL_S):
                raise ClientFailed(f"WebKitWebDriver exited ({self._why_not()})")
        raise ClientFailed(f"WebKitWebDriver did not listen within {LAUNCH_BOUND_S:g} s")

    def _why_not(self) -> str:
        if self._folder is None:
            return "it said nothing"
        log = Path(self._folder.name) / "webkit.log"
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        lines = text.splitlines()[-TAIL_LINES:]
        said = [line.strip() for line in lines if line.strip()]
        return said[-1] if said else "it said nothing"

    async def close(self) -> None:
        hub, self._hub = self._hub, None
        driver, self._driver = self._driver, None
        http, self._http = self._http, None
        process, self._driver_process = self._driver_process, None
        display, self._display = self._display, None
        if driver is not None and driver.session and process is not None:
            # The session's end closes MiniBrowser; the group's end below is the bound.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(driver.send("DELETE", ""), 2.0)
        # The driver's group first (MiniBrowser and its processes), then their display.
        await end(process)
        await end(display)
        if http is not None:
            await http.close()
        if hub is not None:
            await hub.close()
        folder, self._folder = self._folder, None
        if folder is not None:
            await asyncio.to_thread(folder.cleanup)
