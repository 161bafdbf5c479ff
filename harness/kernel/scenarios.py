"""Scenarios: what the client and the server do over a stream, a dimension of the matrix
like networks. Adding one is adding an entry; the lockstep and the verdicts read its record.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    #: The client is asked to leave once it has surfaced this token (0: it reads to the end).
    abort_after: int = 0
    #: The chain raises instead of producing the token after this one (0: before its
    #: first token; None: it does not fail).
    fail_after: int | None = None
    #: Streams the client opens at once to the one origin (each in a page of its own for
    #: a browser: tabs of a chat), each judged; no stream ends before every request has
    #: reached the server, or a hold window has passed without the rest.
    streams: int = 1
    #: The client first makes a short request (a chat page, an earlier answer), then sends
    #: the stream's request on that connection, kept alive; the server says whether it did.
    keep_alive: bool = False


#: The many-streams scenario: one more than Chromium's 6 HTTP/1.1 connections per origin.
MANY = 7

#: Token 5 of the default script (" naïve") ends before any newline, so every client that
#: streams at all has surfaced it; the long token (22) and the end are still to come.
AFTER = 5

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("stream", "the client reads the stream to its end"),
        Scenario(
            "abort",
            f"the client leaves after token {AFTER}, the way its users cancel; "
            "does generation stop?",
            abort_after=AFTER,
        ),
        Scenario(
            "error",
            f"the chain raises after token {AFTER}; is the user told, or does the stream "
            "look complete?",
            fail_after=AFTER,
        ),
        Scenario(
            "error-first",
            "the chain raises before its first token; is the user told, or shown an empty "
            "answer that looks complete?",
            fail_after=0,
        ),
        Scenario(
            "many",
            f"{MANY} streams at once to one origin (tabs of a chat); over HTTP/1.1 a browser "
            "opens 6 connections per origin and the 7th waits for one to end, over HTTP/2 "
            "they share one",
            streams=MANY,
        ),
        Scenario(
            "keep-alive",
            "the client makes a short request, then at once streams on that connection, "
            "kept alive (a page that fetches, then streams; an agent's next call): a server "
            "that leaves Nagle's algorithm on holds token 1 until the client's delayed ACK",
            keep_alive=True,
        ),
    )
}
DEFAULT_SCENARIOS = ("stream",)
