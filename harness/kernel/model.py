"""The data model: variants, clients, cells, verdicts and the facts a cell records.

Everything else imports this module; it imports only ``kernel.wire`` (the wire record)
and ``kernel.facts`` (what a cell records), kept apart for size, nothing else of the project.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from streamcompat.harness.kernel.facts import Facts as Facts
from streamcompat.harness.kernel.wire import Connection as Connection
from streamcompat.harness.kernel.wire import Wire as Wire
from streamcompat.harness.kernel.wire import Write as Write

#: What a client library hands its user: pieces of decoded text, lines (without
#: their terminator) or SSE events (their ``data``).
UnitKind = Literal["chunk", "line", "event"]

#: How a stream is framed on the wire: unframed text, one record per line, or SSE events.
#: Each kind of client parses some framings (the reports show a client reading another
#: one muted: ``outputs.reports.readers``).
Framing = Literal["text", "lines", "sse"]

#: Takes the token stream and returns a Starlette/FastAPI response that streams it.
ResponseFactory = Callable[[AsyncIterator[str]], Any]
#: Under a WSGI server: takes the token stream as a sync iterator, returns a WSGI app.
WSGIFactory = Callable[[Iterator[str]], Any]


class Verdict(str, enum.Enum):
    """How a cell ended, worst last for the gate's ordering."""

    PASS = "PASS"  # every token, exact, as it was produced
    STOPPED = "STOPPED"  # abort: the client left after token k, and generation stopped
    TOLD = "TOLD"  # error: the chain failed after token k, and the client said so
    BUFFERED = "BUFFERED"  # exact, but tokens were held back
    LEAK = "LEAK"  # abort: the client left after token k, and generation went on
    TRUNCATED = "TRUNCATED"  # error: the chain failed after token k; the client ended as if whole
    REPLAYS = "REPLAYS"  # every token, exact, but the stream had no end: the client reconnects
    UNSUPPORTED = "UNSUPPORTED"  # the client cannot make this request at all
    CORRUPT = "CORRUPT"  # content differs: lost, merged, framing leaked, mojibake
    SILENT = "SILENT"  # connected, nothing surfaced
    ERROR = "ERROR"  # the client raised or refused, or the server died
    TIMEOUT = "TIMEOUT"  # no response head within the head window, or no end by the deadline

    @property
    def passed(self) -> bool:
        """The cell did what its scenario asks (stream: PASS; abort: STOPPED; error: TOLD)."""
        return self in (Verdict.PASS, Verdict.STOPPED, Verdict.TOLD)

    @property
    def facts(self) -> VerdictFacts:
        return FACTS[self]


@dataclass(frozen=True)
class VerdictFacts:
    """What the gate, the reports and the docs say of a verdict, in one place."""

    rank: int  # the gate: a lower rank is better; a change to a higher one is a regression
    tint: str  # report.html: the badge's background, its text, the cell card's edge
    ink: str
    edge: str
    mark: str  # matrix.md
    meaning: str  # one line, for the docs and the report's legend


_GREEN = ("#d3f9d8", "#1b5e20", "#2f9e44")
_RED = ("#ffc9c9", "#8b0000", "#e03131")
_ORANGE = ("#ffd8a8", "#7a2e00", "#e8590c")
_GREY = ("#e9ecef", "#495057", "#adb5bd")

#: Every verdict's facts. Ranks: the scenarios' passes are PASS's equals; their failures keep
#: the content exact, like a held-back token; REPLAYS shows every token twice, worse than
#: held back; the rest lose the content.
FACTS: Mapping[Verdict, VerdictFacts] = {
    Verdict.PASS: VerdictFacts(
        0, *_GREEN, "✅", "all tokens, exact, each surfaced before the next was produced"
    ),
    Verdict.STOPPED: VerdictFacts(
        0, *_GREEN, "✅", "abort: the client left after token k, and generation stopped"
    ),
    Verdict.TOLD: VerdictFacts(
        0, *_GREEN, "✅", "error: the chain failed after token k, and the client said so"
    ),
    Verdict.BUFFERED: VerdictFacts(
        1,
        "#ffe8a1",
        "#7a4a00",
        "#f08c00",
        "❌",
        "exact, but a token was held back: the client surfaced it, by its own clock, only "
        "after later bytes were produced",
    ),
    Verdict.LEAK: VerdictFacts(
        1, *_ORANGE, "❌", "abort: the client left after token k, and generation went on"
    ),
    Verdict.TRUNCATED: VerdictFacts(
        1, *_RED, "❌", "error: the chain failed after token k; the client ended as if whole"
    ),
    Verdict.REPLAYS: VerdictFacts(
        2,
        "#c5f6fa",
        "#0b4f5c",
        "#1098ad",
        "❌",
        "every token, exact, but the stream had no end marker: EventSource reconnects and "
        "shows the whole stream again",
    ),
    Verdict.CORRUPT: VerdictFacts(
        3, *_RED, "❌", "content differs: lost, merged, framing leaked, mojibake"
    ),
    Verdict.SILENT: VerdictFacts(
        3, "#e5dbff", "#3b1f8f", "#7048e8", "❌", "connected, nothing surfaced"
    ),
    Verdict.ERROR: VerdictFacts(
        3,
        "#fcc2d7",
        "#7c1440",
        "#c2255c",
        "❌",
        "the client raised or refused, or the server died",
    ),
    Verdict.TIMEOUT: VerdictFacts(
        3,
        *_ORANGE,
        "❌",
        "no response head within the head window, or no end by the cell's deadline",
    ),
    Verdict.UNSUPPORTED: VerdictFacts(
        2, *_GREY, "➖", "the client cannot make this request at all"
    ),
}


@dataclass(frozen=True)
class Variant:
    """One server-side way to put a token stream on the wire.

    ``respond`` builds the response from the gated token stream; ``codec`` names how
    a client's surfaced payloads map back to tokens (see ``harness.codecs``).
    """

    name: str
    respond: ResponseFactory
    codec: str = "text"
    content_type: str = ""
    description: str = ""
    methods: frozenset[str] = frozenset({"GET", "POST"})
    #: SSE only: the event type that carries tokens, and what marks the end of the
    #: stream — an event type, or a data value such as OpenAI's ``[DONE]``.
    event: str = "message"
    end_event: str = "end"
    end_data: str | None = None
    #: Python modules its response needs that are extras (``streamcompat[sse]``):
    #: without them the variant is skipped, with a notice.
    modules: tuple[str, ...] = ()
    #: Its framing, where its content type says another (None: as the content type says).
    framing: Framing | None = None
    #: The server interfaces it runs under (``kernel.servers``): a Starlette response
    #: only under ASGI; a framework's under what it supports (WSGI: ``respond_wsgi``),
    #: but not under the servers ``not_under`` names (its pitfalls say why).
    interfaces: frozenset[str] = frozenset({"asgi"})
    respond_wsgi: WSGIFactory | None = None
    not_under: frozenset[str] = frozenset()
    #: What its users report of it, each with its source (``streamcompat list``, docs).
    pitfalls: tuple[str, ...] = ()


@dataclass(frozen=True)
class Request:
    """What a client driver is asked to do for one cell."""

    cell_id: str
    url: str  # already carries ?stream=<id> for GET
    method: Literal["GET", "POST"]
    body: dict[str, Any]  # JSON body for POST
    read_timeout: float  # bound on any single read; the cell deadline bounds the rest
    event: str = "message"  # SSE clients show the data of events of this type ...
    end_event: str = "end"  # ... and stop at an event of this type
    end_data: str | None = None  # ... or at a token event with this data
    #: The client library's own default timeouts, as its users leave them, instead of
    #: ``read_timeout``. Of the built-in clients only httpx's (5 s per read) is shorter
    #: than a cell; the others' (none, or minutes) cannot end a cell before its deadline.
    library_timeouts: bool = False
    #: On a TLS network: the run's CA certificate (PEM), which the client is told to trust
    #: the way its users trust a private CA ("": plain HTTP, nothing to trust).
    ca_file: str = ""
    #: The keep-alive scenario: a short request the client makes first, on the connection
    #: it then sends the stream's request on ("": none).
    first_url: str = ""


#: A round trip with a client's report channel that returns only once every report the
#: client queued before it has been delivered (see ``Reporter.barrier_via``). It returns
#: how far ahead of the harness's clock the client's clock read at the least, as that round
#: trip bounds it (seconds; negative: it may be that far behind), or None where the
#: client's stamps are the harness's own.
Barrier = Callable[[], Awaitable[float | None]]
#: Tells a script client to leave its stream now (see ``Reporter.stop_via``).
Stop = Callable[[], Awaitable[None]]


class Reporter(Protocol):
    """How a driver tells the harness what its user would see, as it happens.

    ``at`` is when it happened by the client's own clock, already mapped onto the
    harness's monotonic clock (None: now). Drivers whose reports travel through a
    channel (a page, a Node host) hand the harness a barrier with ``barrier_via``;
    in-process drivers need none.
    """

    def requesting(self, at: float | None = None) -> None: ...

    def opened(self, status: int, content_type: str, at: float | None = None) -> None: ...

    def surfaced(self, payload: str, at: float | None = None) -> None: ...

    def ended(self, note: str = "", at: float | None = None, replays: bool = False) -> None: ...

    # The HTTP version the client used for the stream, as it says (ALPN's words: ``h2``,
    # ``http/1.1``), once it knows: a browser only after the body (its resource timing).
    # ``sent_at``: when the client put the request on a connection, by its own clock
    # (a browser's ``requestStart``), where it says: a request it queued is sent late.
    def spoke(self, protocol: str, sent_at: float | None = None) -> None: ...

    def barrier_via(self, barrier: Barrier) -> None: ...

    # The abort scenario: the harness asks the client to leave the stream, as its user
    # would (a stop button). In-process drivers look at ``stopping()`` after every read
    # (the harness then lets one more token out, so a blocked read returns); script hosts
    # hand over how to tell their script with ``stop_via``. Either way the driver closes
    # what its users close and then says ``aborted``.

    def stopping(self) -> bool: ...

    def stop_via(self, stop: Stop) -> None: ...

    def aborted(self, at: float | None = None) -> None: ...


class NeverStops:
    """The abort half of a Reporter for those that never ask a client to leave."""

    def stopping(self) -> bool:
        return False

    def stop_via(self, stop: Stop) -> None:
        pass

    def aborted(self, at: float | None = None) -> None:
        pass


class ClientFailed(Exception):
    """A client raised or refused; the message is what its user would be told."""


async def _not_started() -> Any:
    raise ClientFailed("this run has no such host")


@dataclass(frozen=True)
class Resources:
    """Shared, lazily started hosts a driver may need: one per client runtime and run."""

    browser_context: Callable[[], Awaitable[Any]]  # -> harness.browser.BrowserHub
    node_host: Callable[[], Awaitable[Any]] = _not_started  # -> harness.node_host.NodeHub
    #: The hubs of the other browser engines, by ``Client.engine`` (Firefox's): a browser
    #: client in one of them gets its hub as ``browser_context`` (``for_client``).
    engines: Mapping[str, Callable[[], Awaitable[Any]]] = field(default_factory=dict)

    def for_client(self, client: Client) -> Resources:
        """What ``client``'s driver is given: its own engine's browser (drivers are shared
        by a browser client's columns, one per engine)."""
        if client.engine not in self.engines:
            return self
        return replace(self, browser_context=self.engines[client.engine])


Driver = Callable[[Request, Reporter, Resources], Awaitable[None]]


@dataclass(frozen=True)
class Client:
    """One real client library, used the way its users use it."""

    name: str
    kind: UnitKind
    drive: Driver
    description: str = ""
    methods: frozenset[str] = frozenset({"GET", "POST"})
    group: Literal["python", "browser", "node", "cli"] = "python"
    #: Codecs the client can read at all (e.g. the OpenAI SDK: only ``openai``); None: any.
    codecs: frozenset[str] | None = None
    #: Programs it needs on PATH; a machine without them skips the client, with a notice.
    requires: tuple[str, ...] = ()
    #: It needs the pinned npm packages (``streamcompat setup``; see ``clients.npm``).
    npm: bool = False
    #: Python modules it imports that are extras (``pip install 'streamcompat[sse]'``):
    #: without them it is skipped, with a notice, and the app under test keeps its own
    #: versions of those libraries.
    modules: tuple[str, ...] = ()
    #: HTTP/1.1 connections its runtime opens to one origin at most (Chromium: 6), shared
    #: by the clients of its group; more cells at once would queue inside the runtime.
    connections_per_origin: int | None = None
    #: In a run that names no clients (or names its group). False: only when named, for
    #: a client that is another's twin on the default networks (``httpx-h2`` is httpx
    #: over plain HTTP, where no HTTP/2 is offered).
    by_default: bool = True
    #: The least time between two units its library hands the user (a throttle: axios'
    #: onDownloadProgress, a third of a second): a cell it streams takes that per token,
    #: and is started early (``engine.schedule``). Timing only, never a verdict.
    unit_interval_s: float = 0.0
    #: The browser engine a browser client runs in (``chromium``, ``firefox``; "" for the
    #: others): the same driver and page script in another engine is another column.
    engine: str = ""
    #: Its driver can make a first request and stream on that connection after it (one
    #: session): the keep-alive scenario. Without it those cells are UNSUPPORTED.
    keeps_connection: bool = False


#: What a cell's key joins its parts with.
KEY_SEPARATOR = " × "
#: The server a variant runs under unless another is named (``kernel.servers``): the
#: variant server itself. Its cells' keys name no server.
DEFAULT_SERVER = "uvicorn"
#: Joins a variant and the server it runs under in a cell's key (``raw@hypercorn``).
SERVER_MARK = "@"


@dataclass(frozen=True)
class Cell:
    variant: str
    client: str
    network: str = "direct"
    scenario: str = "stream"
    server: str = DEFAULT_SERVER

    @property
    def key(self) -> str:
        """``variant × client × network``, and ``× scenario`` unless it is ``stream`` (so
        the keys of baselines written before scenarios existed still name their cells);
        the variant is ``variant@server`` under a server other than the default."""
        return KEY_SEPARATOR.join([self.row, self.client, self.where])

    @property
    def row(self) -> str:
        """The variant, and the server it runs under unless it is the default: a report's
        row."""
        if self.server == DEFAULT_SERVER:
            return self.variant
        return f"{self.variant}{SERVER_MARK}{self.server}"

    @property
    def where(self) -> str:
        """The matrix the cell sits in: its network, and its scenario unless ``stream``."""
        if self.scenario == "stream":
            return self.network
        return KEY_SEPARATOR.join([self.network, self.scenario])

    @classmethod
    def from_key(cls, key: str) -> Cell:
        """The cell a key names; ValueError if it names none."""
        parts = key.split(KEY_SEPARATOR)
        if len(parts) not in (3, 4) or not all(parts) or parts[3:] == ["stream"]:
            raise ValueError(f"not a cell key (variant × client × network [× scenario]): {key!r}")
        row, client, network, *scenario = parts
        variant, server = split_row(row)
        return cls(variant, client, network, scenario[0] if scenario else "stream", server)


def split_row(row: str) -> tuple[str, str]:
    """``raw@hypercorn`` as ``("raw", "hypercorn")``; ``raw`` as ``("raw", DEFAULT_SERVER)``
    (``Cell.row``); ValueError if either side is empty or names the default server."""
    variant, mark, server = row.rpartition(SERVER_MARK)
    if not mark:
        return row, DEFAULT_SERVER
    if not variant or not server or server == DEFAULT_SERVER:
        raise ValueError(f"not a variant and its server (variant@server): {row!r}")
    return variant, server


@dataclass(frozen=True)
class Result:
    cell: Cell
    verdict: Verdict
    detail: str
    first_token_ms: float | None
    lag_ms_p50: float | None
    lag_ms_p99: float | None
    duration_ms: float
    facts: Facts
