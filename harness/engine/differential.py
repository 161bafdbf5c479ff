"""The differential report: what each SSE-parsing client makes of the spec corpus.

Every case of ``harness.sse_corpus`` is served verbatim by the variant server
(``/_sc/replay/<case>``; on the ``split`` network also one HTTP chunk per byte), to
every client that parses SSE:
event clients report their events; line clients are read the way their users
parse SSE by hand, a line at a time, by the spec's rules. Any difference from what
the spec says must come out is a deviation of that client library (or of the way
lines reach it), listed with the events it produced.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from streamcompat.harness.engine.networks import network_origin
from streamcompat.harness.engine.overrun import StoppableThreads, deadline
from streamcompat.harness.engine.server import ServerProcess
from streamcompat.harness.hosts.browser import Browser
from streamcompat.harness.hosts.firefox import Firefox
from streamcompat.harness.hosts.node_host import NodeHost
from streamcompat.harness.hosts.webkit import WebKit
from streamcompat.harness.kernel.model import Client, ClientFailed, NeverStops, Request, Resources
from streamcompat.harness.kernel.networks import network as network_record
from streamcompat.harness.spec.sse_corpus import CASES, Case
from streamcompat.harness.spec.sse_oracle import parse

#: The drivers stop at an end event; no corpus case must trigger that.
NO_END_EVENT = "streamcompat-no-end"
CASE_DEADLINE_S = 10.0
#: Longer data is recorded as its head, length and digest: a 5 MiB event written out per
#: client and network would make the reports hundreds of MiB.
SHOWN_CHARS = 80
SHOWN_HEAD = 24
LONG_CASE_BYTES = 1 << 20


@dataclass
class Recorder(NeverStops):
    """A Reporter that keeps what a client surfaced, nothing more."""

    payloads: list[str] = field(default_factory=list)

    def requesting(self, at: float | None = None) -> None:
        pass

    def opened(self, status: int, content_type: str, at: float | None = None) -> None:
        pass

    def surfaced(self, payload: str, at: float | None = None) -> None:
        self.payloads.append(payload)

    def ended(self, note: str = "", at: float | None = None, replays: bool = False) -> None:
        pass

    def spoke(self, protocol: str, sent_at: float | None = None) -> None:
        pass

    def barrier_via(self, barrier: Any) -> None:
        pass  # reports arrive in order; nothing to wait for


@dataclass(frozen=True)
class Outcome:
    case: str
    client: str
    network: str
    expected: list[str]
    got: list[str]
    error: str = ""

    @property
    def deviates(self) -> bool:
        return bool(self.error) or self.got != self.expected


def shown(data: str) -> str:
    """``data`` as an outcome records it: itself, or if long, what tells it apart."""
    if len(data) <= SHOWN_CHARS:
        return data
    digest = hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{data[:SHOWN_HEAD]}… ({len(data)} chars, sha256 {digest})"


def expected_data(case: Case) -> list[str]:
    """The data of the ``message`` events the spec says come out (what clients show)."""
    return [shown(e.data) for e in case.events if e.type == "message"]


def events_of(client: Client, payloads: list[str]) -> list[str]:
    if client.kind == "line":  # the user's loop: spec rules applied to each line it yields
        wire = "".join(line + "\n" for line in payloads).encode("utf-8", "surrogatepass")
        return [shown(e.data) for e in parse(wire) if e.type == "message"]
    return [shown(payload) for payload in payloads]


def sse_clients(clients: Sequence[Client]) -> list[Client]:
    """Clients that parse SSE (events), or that users parse SSE with (lines)."""
    return [c for c in clients if c.kind in ("event", "line") and c.codecs is None]


async def run_corpus(
    clients: Sequence[Client], networks: Sequence[str], jobs: int = 4
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    slots = asyncio.Semaphore(jobs)
    asyncio.get_running_loop().set_default_executor(StoppableThreads())
    async with contextlib.AsyncExitStack() as stack:
        server = await stack.enter_async_context(ServerProcess(["builtin"]))
        browser = await stack.enter_async_context(Browser())
        firefox = await stack.enter_async_context(Firefox())
        webkit = await stack.enter_async_context(WebKit())
        node = await stack.enter_async_context(NodeHost())
        engines = {"firefox": firefox.hub, "webkit": webkit.hub}
        resources = Resources(browser.hub, node.hub, engines=engines)
        # Start the hosts before the cases: their start-up is no case's deadline.
        hosts: tuple[tuple[str, Browser | Firefox | WebKit], ...] = (
            ("chromium", browser),
            ("firefox", firefox),
            ("webkit", webkit),
        )
        for engine, host in hosts:
            if any(c.group == "browser" and c.engine == engine for c in clients):
                with contextlib.suppress(ClientFailed):  # each browser case reports it
                    await host.hub()
        if any(c.group == "node" for c in clients):
            with contextlib.suppress(ClientFailed):
                await node.hub()

        async def one(case: Case, client: Client, network: str, origin: str) -> None:
            recorder = Recorder()
            request = Request(
                cell_id=f"{case.name}-{client.name}-{network}-{time.monotonic_ns()}",
                url=f"{origin}/_sc/replay/{case.name}"
                + ("?split=true" if network_record(network).byte_chunks else ""),
                method="GET",
                body={},
                read_timeout=CASE_DEADLINE_S,
                end_event=NO_END_EVENT,
            )
            error = ""
            async with slots:
                with deadline() as blocking:
                    try:
                        await asyncio.wait_for(
                            client.drive(request, recorder, resources.for_client(client)),
                            CASE_DEADLINE_S,
                        )
                    except asyncio.TimeoutError:
                        blocking.stop()  # a blocking client's thread reads no further
                        error = f"no end within {CASE_DEADLINE_S:.0f} s"
                    except ClientFailed as exc:
                        error = str(exc)
                    except Exception as exc:  # a library raising on a case is a finding
                        error = f"{type(exc).__name__}: {exc}"
            got = events_of(client, recorder.payloads)
            outcomes.append(
                Outcome(case.name, client.name, network, expected_data(case), got, error)
            )

        # The longest cases first: a client too slow for one holds its slot until the
        # deadline, while the others run in the remaining slots.
        cases = sorted(CASES, key=lambda case: len(case.wire) > LONG_CASE_BYTES, reverse=True)
        for network in networks:
            origin = await stack.enter_async_context(network_origin(network, server))
            await asyncio.gather(
                *(one(case, c, network, origin) for case in cases for c in clients)
            )
    order = {(c.name, n): i for i, (c, n) in enumerate((c, n) for n in networks for c in clients)}
    names = [case.name for case in CASES]
    return sorted(outcomes, key=lambda o: (names.index(o.case), order[(o.client, o.network)]))


def table(outcomes: Sequence[Outcome]) -> str:
    """Markdown: one row per case some client deviates on, ✅/❌ per client × network."""
    columns = list(dict.fromkeys((o.client, o.network) for o in outcomes))
    by = {(o.case, o.client, o.network): o for o in outcomes}
    deviating = list(dict.fromkeys(o.case for o in outcomes if o.deviates))
    head = "| case | " + " | ".join(f"{c} ({n})" for c, n in columns) + " |"
    lines = [head, "|" + "---|" * (len(columns) + 1)]
    for case in deviating:
        marks = ["❌" if by[(case, c, n)].deviates else "✅" for c, n in columns]
        lines.append(f"| {case} | " + " | ".join(marks) + " |")
    lines.append("")
    lines.append("Deviations, with the events each produced (`data` of message events):")
    lines.append("")
    for o in outcomes:
        if o.deviates:
            got = f"raised {o.error!r}" if o.error else f"got {o.got!r}"
            lines.append(f"- `{o.case}` × {o.client} ({o.network}): expected {o.expected!r}, {got}")
    return "\n".join(lines) + "\n"


def as_json(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    why = {case.name: case.why for case in CASES}
    return {
        "schema": 1,
        "cases": len(CASES),
        "outcomes": [dict(asdict(o), deviates=o.deviates, why=why[o.case]) for o in outcomes],
    }
