"""Plug-in variants that attack the harness itself: they kill their server, never answer,
never end, or raise before their first byte. ``tests/integration/test_faults.py`` runs them
(``--variants tests.support.hostile_plugins:VARIANTS``) and checks that each cell still ends with a
verdict that says what happened, soon, and without a traceback.

``kills-server-for-good`` leaves a mark (the file named by ``STREAMCOMPAT_HOSTILE_MARK``)
before it kills its server, and this module refuses to import once the mark exists: the
restarted server dies at start, as a server broken for good does.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from streamcompat import Variant

#: Where ``kills-server-for-good`` leaves its mark (unset: it only kills, like ``kills-server``).
MARK_ENV = "STREAMCOMPAT_HOSTILE_MARK"
#: Tokens a killing variant streams before it kills its server.
TOKENS_BEFORE_DEATH = 3

_mark = os.environ.get(MARK_ENV, "")
if _mark and Path(_mark).exists():
    raise RuntimeError("the hostile plug-in was marked broken for good")


async def _until_disconnect(receive: Receive) -> None:
    """Wait until the client hangs up (uvicorn then says ``http.disconnect``)."""
    while (await receive())["type"] != "http.disconnect":
        pass


class _NeverAnswers(Response):
    """Reads the request, then sends nothing at all, not even a status line."""

    def __init__(self, tokens: AsyncIterator[str]) -> None:
        super().__init__()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _until_disconnect(receive)


class _Endless(Response):
    """Streams every token, then holds the response open: its end never comes."""

    def __init__(self, tokens: AsyncIterator[str]) -> None:
        super().__init__()
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # No content-length: the body is chunked, and may go on for ever.
        headers = [(b"content-type", b"text/plain; charset=utf-8")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        async for token in self.tokens:
            await send({"type": "http.response.body", "body": token.encode(), "more_body": True})
        await _until_disconnect(receive)


def _killing(mark: bool) -> Variant:
    """A stream that kills its own server (SIGKILL: no clean-up) after a few tokens."""

    def respond(tokens: AsyncIterator[str]) -> StreamingResponse:
        async def body() -> AsyncIterator[str]:
            sent = 0
            async for token in tokens:
                yield token
                sent += 1
                # Resumed only once the response has written the token out.
                if sent == TOKENS_BEFORE_DEATH:
                    if mark and _mark:
                        Path(_mark).touch()
                    os.kill(os.getpid(), signal.SIGKILL)

        return StreamingResponse(body(), media_type="text/plain")

    name = "kills-server-for-good" if mark else "kills-server"
    return Variant(name, respond, description="kills its server after three tokens")


def _raises_first(tokens: AsyncIterator[str]) -> StreamingResponse:
    async def body() -> AsyncIterator[str]:
        raise RuntimeError("the chain failed before its first token")
        yield ""  # a generator all the same

    return StreamingResponse(body(), media_type="text/event-stream")


#: Generation tasks of ``detached`` streams, held so that nothing collects them mid-run.
_DETACHED: set[asyncio.Task[None]] = set()


def _detached(tokens: AsyncIterator[str]) -> StreamingResponse:
    """Generation in a task of its own that fills a queue the response drains: when the
    client leaves, the response ends and the task does not (the abort scenario's LEAK)."""
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    async def generate() -> None:
        async for token in tokens:
            await queue.put(token)
        await queue.put(None)

    task = asyncio.ensure_future(generate())
    _DETACHED.add(task)
    task.add_done_callback(_DETACHED.discard)

    async def body() -> AsyncIterator[str]:
        while (token := await queue.get()) is not None:
            yield token

    return StreamingResponse(body(), media_type="text/plain")


class _ChecksBeforeWrite(Response):
    """Looks for a disconnect only before each write (as servers on ASGI 2.4, which learn
    of one when a write fails): a client that leaves while it waits is noticed one token
    later, and the token stream is then closed."""

    def __init__(self, tokens: AsyncIterator[str]) -> None:
        super().__init__()
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/plain; charset=utf-8")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        request = Request(scope, receive)
        try:
            async for token in self.tokens:
                if await request.is_disconnected():
                    return
                await send(
                    {"type": "http.response.body", "body": token.encode(), "more_body": True}
                )
            await send({"type": "http.response.body", "body": b""})
        finally:
            await self.tokens.aclose()  # type: ignore[attr-defined]


KILLS_SERVER = _killing(mark=False)
KILLS_SERVER_FOR_GOOD = _killing(mark=True)
NEVER_ANSWERS = Variant("never-answers", _NeverAnswers, description="never sends a head")
ENDLESS = Variant("endless", _Endless, description="every token, then never ends")
RAISES_FIRST = Variant("raises-first", _raises_first, description="raises before its first yield")

DETACHED = Variant("detached", _detached, description="generation detached from the response")
CHECKS_BEFORE_WRITE = Variant(
    "checks-before-write", _ChecksBeforeWrite, description="notices a disconnect only to write"
)

VARIANTS = [KILLS_SERVER, NEVER_ANSWERS, ENDLESS, RAISES_FIRST, KILLS_SERVER_FOR_GOOD]
#: Variants for the abort scenario (``tests/integration/test_scenarios.py``).
LIFECYCLE = [DETACHED, CHECKS_BEFORE_WRITE]
