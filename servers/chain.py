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
        self._changed = asyncio.Event()

    def release(self, upto: int) -> None:
        if upto > self.released:
            self.released = upto
            self._changed.set()

    async def wait_for(self, k: int) -> None:
        """Wait until token ``k`` (1-based) may be emitted; bounded by GATE_BOUND_S."""
        await asyncio.wait_for(self._until(k), GATE_BOUND_S)

    async def _until(self, k: int) -> None:
        while self.released < k:
            self._changed.clear()
            await self._changed.wait()


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
        for k, token in enumerate(self.tokens, start=1):
            await self.gate.wait_for(k)
            yield ChatGenerationChunk(message=AIMessageChunk(content=token))
        await self.gate.wait_for(len(self.tokens) + 1)  # the end, released like a token
        self.gate.ended_at = time.monotonic()


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
    try:
        while (token := await queue.get()) is not None:
            gate.emitted_at.append(time.monotonic())
            yield token
        run.result()  # surface a chain failure as a broken stream, not a clean end
    finally:
        run.cancel()
        gate.done = True
