"""The token source: a langchain chain whose fake chat model waits on a gate per token.

Tokens reach the response the way lanarky streams them: through an async callback
handler's ``on_llm_new_token``, into a queue that the response body drains.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.prompts import ChatPromptTemplate
from pydantic import Field

#: A stream whose harness stopped releasing tokens ends instead of hanging forever.
GATE_BOUND_S = 120.0


class Gate:
    """Per-stream lockstep state: how many tokens the harness has released so far.

    Releasing ``n + 1`` (one past the last token) releases the stream's end: the model
    returns only then, so that a client holding its last token until the body ends is
    seen doing so.
    """

    def __init__(self) -> None:
        self.released = 0
        self.started = asyncio.Event()
        self.requests = 0  # how many requests came for this stream (a reconnect adds one)
        self.emitted_at: list[float] = []
        self.ended_at = 0.0  # when the model returned, after its last token
        self.head_at = 0.0  # when the response head went out (0: it has not)
        self.done = False
        self.consumed = False  # the response read the token stream at all
        self.error = ""  # what went wrong on the server side, for the verdict's detail
        # The scenarios (``harness.scenarios``), set by the harness over the control channel.
        self.fail_at = 0  # error: the model raises instead of producing this token
        self.left = False  # abort: the client left, the run went on: it now runs as the body reads
        self.wanted = 0  # the token the response body is waiting for
        #: A relay reads this stream (app mode, ``servers.completions``) and says which token
        #: its own response waits for: once the client has left, that paces the run, not
        #: what the upstream's response (with a TCP buffer between them) could send on.
        self.relay_paces = False
        self.generated = 0  # tokens the model produced
        self.cancelled_at = 0.0  # the model's run was cancelled (abort: the server noticed)
        self.finished = asyncio.Event()  # the model's run is over: ended, failed or cancelled
        #: The connections its requests came on: [request, client port, TCP_NODELAY]
        #: (``servers.peers``; the keep-alive scenario's first request, then the stream's).
        self.connections: list[list[Any]] = []
        self._changed = asyncio.Event()

    def release(self, upto: int) -> None:
        if upto > self.released:
            self.released = upto
            self._changed.set()

    def over(self, run: asyncio.Future[Any]) -> None:
        """The chain's run is done: it ended, failed, or was cancelled. (Its task, not the
        model's generator: cancelled between two tokens, inside langchain's callbacks,
        the generator is left suspended, not closed.)"""
        if run.cancelled():
            self.cancelled_at = time.monotonic()
        self.finished.set()

    def want(self, k: int) -> None:
        """The response body waits for token ``k``; once the client has left, that alone
        lets it out, as a model that keeps generating would produce it."""
        self.wanted = k
        if self.left and not self.relay_paces:
            self.release(k)

    def pull(self, k: int) -> None:
        """A relay's response waits for token ``k`` (``servers.completions``): once the
        client has left, that lets it out, as ``want`` does for the response that pulls
        its tokens itself."""
        if self.left:
            self.release(k)

    def leave(self) -> None:
        """The client has left (abort) and the run was not cancelled while the response
        waited: from now on the model is paced by the body alone, one token ahead at most,
        so what it produces after this is what the server's response (not the harness)
        asked for. A relayed stream's body is the relay's (``pull``): the token the
        upstream's response waits for goes now, and the relay is told to pull the rest."""
        self.left = True
        if self.wanted:
            self.release(self.wanted)

    async def wait_for(self, k: int) -> None:
        """Wait until token ``k`` (1-based) may be emitted; bounded by GATE_BOUND_S."""
        # Not asyncio.wait_for: before 3.12 it swallows a cancellation that comes as the
        # token is released (it returns the result instead), and the cancelled run then
        # waits for a token nobody will release (seen in the abort scenario).
        loop = asyncio.get_running_loop()
        deadline = loop.time() + GATE_BOUND_S
        timer = loop.call_later(GATE_BOUND_S, self._changed.set)
        try:
            while self.released < k:
                if loop.time() >= deadline:
                    raise asyncio.TimeoutError(f"token {k} was not released in {GATE_BOUND_S:g} s")
                self._changed.clear()
                await self._changed.wait()
        finally:
            timer.cancel()


class GatedFakeChatModel(BaseChatModel):
    """Streams a fixed script, one token per chunk, each only once the gate allows it."""

    # Out of the repr: langchain serializes the model once per run (for its callbacks),
    # by repr, and a script may hold a 1 MiB token.
    tokens: list[str] = Field(repr=False)
    gate: Any = Field(repr=False)  # a Gate; pydantic needs no schema for it
    streaming: bool = True  # langchain streams only if this is set explicitly (see below)

    @property
    def _llm_type(self) -> str:
        return "streamcompat-gated-fake"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        message = AIMessage(content="".join(self.tokens))
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        gate = self.gate
        for k, token in enumerate(self.tokens, start=1):
            await gate.wait_for(k)
            if k == gate.fail_at:
                raise ModelFailed("upstream model failed")
            gate.generated = k
            yield ChatGenerationChunk(message=AIMessageChunk(content=token))
        await gate.wait_for(len(self.tokens) + 1)  # the end, released like a token
        gate.ended_at = time.monotonic()


class ModelFailed(RuntimeError):
    """The error scenario's failure: what an upstream model's client raises mid-stream."""


class QueueCallbackHandler(AsyncCallbackHandler):
    """Hands every new token to the response body, like lanarky's streaming handler."""

    def __init__(self, queue: asyncio.Queue[str | None]) -> None:
        self.queue = queue

    async def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
        if (
            isinstance(token, str) and token
        ):  # langchain ends a stream with an empty chunk; it is not a token
            await self.queue.put(token)


PROMPT = ChatPromptTemplate.from_messages([("human", "{prompt}")])


async def token_stream(gate: Gate, tokens: Sequence[str], prompt: str) -> AsyncIterator[str]:
    """Run the chain and yield its tokens as the callback handler receives them."""
    gate.consumed = True
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    chain = (
        PROMPT
        | GatedFakeChatModel(tokens=list(tokens), gate=gate, streaming=True)
        | StrOutputParser()
    )
    run = asyncio.ensure_future(
        chain.ainvoke({"prompt": prompt}, config={"callbacks": [QueueCallbackHandler(queue)]})
    )
    run.add_done_callback(lambda _: queue.put_nowait(None))
    run.add_done_callback(gate.over)
    try:
        while True:
            gate.want(len(gate.emitted_at) + 1)
            if (token := await queue.get()) is None:
                break
            gate.emitted_at.append(time.monotonic())
            yield token
        run.result()  # surface a chain failure as a broken stream, not a clean end
    finally:
        run.cancel()
        gate.done = True
