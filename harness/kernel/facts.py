"""What a cell records while it runs (``Facts``); verdicts are pure functions of these.

Part of the data model (``kernel.model`` re-exports it), kept apart for size; it imports
only ``kernel.wire``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streamcompat.harness.kernel.wire import Connection, Wire


@dataclass
class Facts:
    """What was recorded while a cell ran; verdicts are pure functions of these."""

    tokens: list[str]
    unsupported: str = ""  # why the client cannot make this request, if it cannot
    started_at: float = 0.0  # the client was told to start
    requested_at: float = 0.0  # the client sent its request (time to first token counts from here)
    finished_at: float = 0.0  # the cell ended (client done, failed or deadline)
    opened: bool = False
    status: int = 0
    content_type: str = ""
    units: int = 0  # payloads surfaced, empty ones included
    shown: str = ""  # the text the user would see, decoded by the variant's codec
    surfaced_at: list[float] = field(default_factory=list)  # token k (1-based) at index k-1
    emitted_at: list[float] = field(default_factory=list)  # server side, same clock
    ended_at: float = 0.0  # when the server produced the end of the stream (after token n)
    released_at: list[float] = field(default_factory=list)  # token k at k-1; the end at n
    stalled_at: int = 0  # 1-based token still unheard of after a hold window and a barrier
    barriers: int = 0  # report barriers taken with the client
    #: The most a barrier's round trip proved the client's clock, mapped onto the harness's,
    #: reads ahead of it (seconds; negative: it may be that far behind; None: no barrier
    #: said, or the client's stamps are the harness's own). See ``verdicts.clock_slack``.
    clock_lead: float | None = None
    replayed: list[str] = field(default_factory=list)  # why earlier attempts were replayed
    diverged: str = ""  # how the shown text first left the expected text
    ended: bool = False
    end_note: str = ""
    replays: bool = False  # ended without an end event: EventSource would replay it all
    failure: str = ""  # the client's error, if it raised
    server_note: str = ""  # what the variant server saw go wrong, if anything
    requests: int = 0  # requests the server saw for the stream (a client's retry adds one)
    timed_out: bool = False
    deadline: float = 0.0  # the cell's deadline, seconds (for what a TIMEOUT says)
    think: float = 0.0  # the model thought this long before its first token (seconds)
    arrived_at: float = 0.0  # the request reached the server (0: it never did)
    #: A window (seconds) that passed with no response head: the client reported none and
    #: the server sent none (the head window, or the connect window if the request never
    #: reached the server). 0: a head came, or the cell ended otherwise first.
    no_head_within: float = 0.0
    server_died: str = ""  # how the variant server died while the cell ran (code or signal, log)
    # The abort and error scenarios (``harness.scenarios``): after which token the client
    # was asked to leave (0: it was not), or the chain failed (0: before its first token;
    # None: it did not fail).
    abort_after: int = 0
    fail_after: int | None = None
    client_done_at: float = 0.0  # the client's driver returned or raised
    stop_requested_at: float = 0.0  # the harness asked the client to leave
    aborted_at: float = 0.0  # the client said it had left (closed what its users close)
    generated: int = 0  # tokens the model produced (server side), whoever read them
    cancelled_at: float = 0.0  # the model's run was cancelled (0: it was not)
    #: abort: the model's run was not over a settle window after the client had left, and
    #: was then let run as the server's response asked (``servers.control``).
    let_run: bool = False
    #: abort: the server's run still went on (neither cancelled nor ended) this many
    #: seconds after the client had left, when the harness stopped waiting.
    running_after: float = 0.0
    wire: Wire | None = None  # what the server sent (None: no response, or no record of it)
    protocol: str = ""  # the HTTP version the client said it used (``h2``, ``http/1.1``)
    sent_at: float = 0.0  # the client put the request on a connection (0: it did not say)
    keep_alive: bool = False  # the stream was to go on the connection of a first request
    connections: list[Connection] = field(default_factory=list)  # the server's, by request
    #: App mode: the app's name. The "server" is then the fake upstream the app calls,
    #: and ``wire`` what the upstream sent the app.
    app: str = ""
