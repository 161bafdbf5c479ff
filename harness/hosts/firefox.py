"""One Firefox per run, its pages driven as Chromium's are (``browser.BrowserHub``).

The harness starts Firefox itself (the system's ``firefox-esr``), headless, on a profile
of the run's own, in a process group of its own that dies with the harness and is ended
by PID (``processes``): a launcher library would start it detached, in a session of its
own, out of reach of the run's process control. The harness talks to it over WebDriver
BiDi, the W3C protocol Firefox serves itself (no geckodriver): one WebSocket, four
commands (a session, a window, a navigation, a close). A page is the variant server's
``/_sc/blank`` in a window of its own (a window's page is visible, so its timers are not
throttled as a background tab's are), and from there on it is Chromium's page: it imports
``page_host.mjs`` and the hub drives it over its channel by the same report protocol.

On a TLS network, the run's CA is imported into the profile's certificate store with NSS's
``certutil`` (``libnss3-tools``), as a Firefox user imports a private CA in the certificate
manager: no ``acceptInsecureCerts``, no pref that turns checks off.

An app under test (app mode) serves no ``/_sc/blank``: there, Firefox answers that one
path itself (BiDi network interception), as Chromium does (``Browser(blank_page=True)``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from streamcompat.harness.hosts.browser import BrowserHub
from streamcompat.harness.hosts.engine import Engine
from streamcompat.harness.hosts.processes import end, spawn_piped
from streamcompat.harness.hosts.scripts import BLANK_PAGE
from streamcompat.harness.kernel.model import ClientFailed

#: What ``streamcompat setup firefox`` installs (a program -> its Debian package): Firefox
#: ESR, and NSS's certutil, which imports a TLS run's CA into the run's profile.
FIREFOX_PACKAGES = {"firefox": "firefox-esr", "certutil": "libnss3-tools"}
SYSTEM_FIREFOXES = ("firefox-esr", "firefox")
#: Firefox's own limit on persistent HTTP/1.1 connections to one server
#: (``network.http.max-persistent-connections-per-server``), as Chromium's.
FIREFOX_CONNECTIONS_PER_HOST = 6
#: Firefox must start and say where its BiDi server listens within this (a cold start on
#: a loaded 2-core machine takes a few seconds).
LAUNCH_BOUND_S = 60.0
#: One BiDi command (a window, a navigation, a close) must be answered within this.
COMMAND_BOUND_S = 30.0
LISTENING = re.compile(rb"WebDriver BiDi listening on (ws://127\.0\.0\.1:\d+)")
TAIL_LINES = 20  # of Firefox's output, kept to say why it did not start
BLANK_PATH = "/_sc/blank"  # the hub's page (``Firefox(blank_page=True)``)

#: The run's profile (``user.js``). Firefox's remote agent sets its own recommended prefs
#: for automation on top (no first-run pages, no updates, no default-browser check).
PREFS: dict[str, bool | int | str] = {
    # The clients' timestamps are compared with the server's: full precision, not the
    # 1 ms (jittered) fingerprinting guard. What a page shows and when is unchanged.
    "privacy.reduceTimerPrecision": False,
    "network.proxy.type": 0,  # straight to loopback, whatever the environment says
    "network.http.http3.enable": False,  # as Chromium's --disable-quic: TCP only
    # No background requests to the outside (there is none to reach): CPU for nothing.
    "app.normandy.enabled": False,
    "messaging-system.rsexperimentloader.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "toolkit.telemetry.enabled": False,
    "browser.safebrowsing.update.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "extensions.update.enabled": False,
    "browser.newtabpage.enabled": False,
}


def find_firefox() -> str | None:
    """A system Firefox (STREAMCOMPAT_FIREFOX, then PATH), or None."""
    configured = os.environ.get("STREAMCOMPAT_FIREFOX")
    if configured:
        return shutil.which(configured)
    for name in SYSTEM_FIREFOXES:
        found = shutil.which(name)
        if found:
            return found
    return None


def missing() -> str:
    """Why the Firefox columns cannot run here ("": they can)."""
    if find_firefox() is None:
        return (
            "Firefox not installed (`streamcompat setup firefox`, or `apt-get install "
            "firefox-esr` on Debian/Ubuntu; or set STREAMCOMPAT_FIREFOX)"
        )
    return ""


class Bidi:
    """A WebDriver BiDi session over one WebSocket: commands, each answered by its id."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse[bool]) -> None:
        self.socket = socket
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._handlers: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # held: the loop keeps weak references
        self._reader = asyncio.ensure_future(self._read())
        self.gone = ""

    async def on(self, event: str, handler: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        """Have Firefox send ``event``, each handled by ``handler`` (errors ignored)."""
        self._handlers[event] = handler
        await self.send("session.subscribe", {"events": [event]})

    def _spawn(self, work: Awaitable[None]) -> None:
        async def handled() -> None:
            with contextlib.suppress(Exception):  # a page closed meanwhile, Firefox gone
                await work

        task = asyncio.ensure_future(handled())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if self.gone:
            raise ClientFailed(f"Firefox went away ({self.gone})")
        number = next(self._ids)
        answer = self._waiting[number] = asyncio.get_running_loop().create_future()
        try:
            await self.socket.send_str(
                json.dumps({"id": number, "method": method, "params": params})
            )
            return await asyncio.wait_for(answer, COMMAND_BOUND_S)
        except asyncio.TimeoutError:
            raise ClientFailed(
                f"Firefox did not answer {method} within {COMMAND_BOUND_S:g} s"
            ) from None
        except ConnectionError as exc:
            raise ClientFailed(f"Firefox went away ({exc})") from exc
        finally:
            self._waiting.pop(number, None)

    async def _read(self) -> None:
        try:
            async for message in self.socket:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                data = json.loads(message.data)
                if data.get("type") == "event":
                    handler = self._handlers.get(str(data.get("method")))
                    if handler is not None:
                        self._spawn(handler(data.get("params", {})))
                    continue
                answer = self._waiting.get(data.get("id", 0))
                if answer is None or answer.done():
                    continue
                if data.get("type") == "success":
                    answer.set_result(data.get("result", {}))
                else:
                    why = f"{data.get('error')}: {data.get('message', '')}".strip(": ")
                    answer.set_exception(ClientFailed(f"Firefox refused: {why}"))
        finally:
            self.gone = self.gone or "its WebDriver BiDi connection closed"
            for answer in self._waiting.values():
                if not answer.done():
                    answer.set_exception(ClientFailed(f"Firefox went away ({self.gone})"))

    async def close(self) -> None:
        self.gone = self.gone or "closed by the harness"
        await self.socket.close()
        with contextlib.suppress(Exception):
            await self._reader


class FirefoxWindows:
    """The hub's pages in Firefox: each a window (a top-level browsing context) of its own."""

    def __init__(self, bidi: Bidi) -> None:
        self.bidi = bidi

    async def open(self, url: str) -> str:
        created = await self.bidi.send("browsingContext.create", {"type": "window"})
        context = str(created["context"])
        # "none": the page's channel connecting is what the hub waits for, not a load event.
        await self.bidi.send(
            "browsingContext.navigate", {"context": context, "url": url, "wait": "none"}
        )
        return context

    async def close(self, target: str) -> None:
        await self.bidi.send("browsingContext.close", {"context": target})


class Firefox(Engine):
    """``async with Firefox() as firefox:`` — launched on first use, always ended by PID."""

    name = "Firefox"

    def __init__(self, ca_file: str = "", blank_page: bool = False) -> None:
        super().__init__()
        self.ca_file = ca_file  # the run's CA (TLS networks), imported into the profile
        #: Firefox answers ``/_sc/blank`` itself, on any origin (an app has no such page).
        self.blank_page = blank_page
        self._process: subprocess.Popen[bytes] | None = None
        self._profile: tempfile.TemporaryDirectory[str] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._bidi: Bidi | None = None
        self._drains: list[asyncio.Task[None]] = []
        self._tail: deque[str] = deque(maxlen=TAIL_LINES)

    def pages_ahead(self, jobs: int) -> int:
        """Pages to open on each origin before the cells: one per cell that may run at
        once, as a new window costs about a second (Chromium's page ~100 ms), which no
        cell's timings should include."""
        return jobs

    async def _launch(self) -> BrowserHub:
        firefox = find_firefox()
        if firefox is None:
            raise ClientFailed(missing())
        self._profile = tempfile.TemporaryDirectory(prefix="streamcompat-firefox-")
        profile = Path(self._profile.name)
        await asyncio.to_thread(self._make_profile, profile)
        command = [firefox, "--headless", "--no-remote", "--profile", str(profile),
                   "--remote-debugging-port", "0", "about:blank"]  # fmt: skip
        self._process = spawn_piped(command, {"MOZ_CRASHREPORTER_DISABLE": "1"})
        assert self._process.stdin is not None
        self._process.stdin.close()
        address = await self._listening()
        self._http = aiohttp.ClientSession()
        socket = await self._http.ws_connect(f"{address}/session", max_msg_size=0)
        self._bidi = Bidi(socket)
        session = await self._bidi.send("session.new", {"capabilities": {}})
        capabilities = session.get("capabilities", {})
        self.version = f"{capabilities.get('browserVersion', '')}".strip()
        if self.blank_page:
            await _answer_blank_pages(self._bidi)
        hub = BrowserHub(FirefoxWindows(self._bidi))
        await hub.listen()
        return hub

    def _make_profile(self, profile: Path) -> None:
        lines = [f"user_pref({json.dumps(k)}, {json.dumps(v)});" for k, v in PREFS.items()]
        (profile / "user.js").write_text("\n".join(lines) + "\n", encoding="utf-8")
        if not self.ca_file:
            return
        certutil = shutil.which("certutil")
        if certutil is None:
            raise ClientFailed(
                "certutil not installed: Firefox cannot be given the run's CA "
                "(`streamcompat setup firefox`, or `apt-get install libnss3-tools`)"
            )
        store = f"sql:{profile}"
        for arguments in (
            ["-N", "-d", store, "--empty-password"],  # the profile's store, as Firefox makes it
            ["-A", "-d", store, "-n", "streamcompat run CA", "-t", "C,,", "-i", self.ca_file],
        ):
            done = subprocess.run(
                [certutil, *arguments], capture_output=True, text=True, timeout=COMMAND_BOUND_S
            )
            if done.returncode != 0:
                raise ClientFailed(f"certutil {arguments[0]} failed: {done.stderr.strip()}")

    async def _listening(self) -> str:
        """Read Firefox's output until it says where BiDi listens; then keep draining it."""
        assert self._process and self._process.stdout and self._process.stderr
        loop = asyncio.get_running_loop()
        found: asyncio.Future[str] = loop.create_future()

        async def drain(pipe: Any) -> None:
            reader = asyncio.StreamReader(limit=1 << 20)
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
            with contextlib.suppress(ValueError):  # a line past the limit: no tail needs it
                while line := await reader.readline():
                    self._tail.append(line.decode(errors="replace").rstrip())
                    if (match := LISTENING.search(line)) and not found.done():
                        found.set_result(match.group(1).decode())
            if not found.done():  # both pipes closed: Firefox has exited
                found.set_exception(ClientFailed(self._why_not()))

        self._drains = [
            asyncio.ensure_future(drain(self._process.stdout)),
            asyncio.ensure_future(drain(self._process.stderr)),
        ]
        try:
            return await asyncio.wait_for(asyncio.shield(found), LAUNCH_BOUND_S)
        except asyncio.TimeoutError:
            raise ClientFailed(
                f"no WebDriver BiDi address within {LAUNCH_BOUND_S:g} s ({self._why_not()})"
            ) from None

    def _why_not(self) -> str:
        said = [line for line in self._tail if line.strip()]
        return said[-1] if said else "it said nothing"

    async def close(self) -> None:
        hub, self._hub = self._hub, None
        bidi, self._bidi = self._bidi, None
        http, self._http = self._http, None
        process, self._process = self._process, None
        # Firefox first: the hub's server then has no page left whose channel it waits for.
        await end(process)  # its whole process group: content processes and all
        for task in self._drains:  # its pipes closed with it: the readers end
            task.cancel()
        await asyncio.gather(*self._drains, return_exceptions=True)
        self._drains = []
        if bidi is not None:
            await bidi.close()
        if http is not None:
            await http.close()
        if hub is not None:
            await hub.close()
        profile, self._profile = self._profile, None
        if profile is not None:
            await asyncio.to_thread(profile.cleanup)


async def _answer_blank_pages(bidi: Bidi) -> None:
    """Have Firefox answer every ``/_sc/blank`` request with the hub's page, whatever the
    origin (BiDi's network interception, paused only for that path): the app under test
    serves no such page. Firefox reports every other request too, once, unpaused."""
    headers = [
        {"name": "Content-Type", "value": {"type": "string", "value": "text/html; charset=utf-8"}}
    ]

    async def answer(event: dict[str, Any]) -> None:
        if event.get("isBlocked"):
            await bidi.send(
                "network.provideResponse",
                {
                    "request": event["request"]["request"],
                    "statusCode": 200,
                    "reasonPhrase": "OK",
                    "headers": headers,
                    "body": {"type": "string", "value": BLANK_PAGE},
                },
            )

    await bidi.on("network.beforeRequestSent", answer)
    await bidi.send(
        "network.addIntercept",
        {
            "phases": ["beforeRequestSent"],
            "urlPatterns": [{"type": "pattern", "pathname": BLANK_PATH}],
        },
    )
