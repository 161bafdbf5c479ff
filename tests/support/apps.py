"""Apps that get app mode wrong, each a FastAPI app for ``uvicorn tests.support.apps:<name>``.

``naive`` is examples/langchain_app.py with the framing of lanarky #121's first fix.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, StreamingResponse
from langchain_openai import ChatOpenAI
from openai import AsyncOpenAI
from pydantic import BaseModel


class Message(BaseModel):
    message: str


never_calls = FastAPI()  # answers from a cache, never calling the model


@never_calls.post("/chat")
async def cached(body: Message) -> PlainTextResponse:
    return PlainTextResponse("a cached answer")


hangs = FastAPI()  # waits on something that never comes, never calling the model


@hangs.post("/chat")
async def stuck(body: Message) -> PlainTextResponse:
    await asyncio.Event().wait()
    return PlainTextResponse("never")


def _relay(prompt: str, stream: bool) -> FastAPI:
    app = FastAPI()

    @app.post("/chat")
    async def chat(body: Message) -> StreamingResponse:
        # Raises the upstream's 400 here: the app's log ends with it.
        response = await AsyncOpenAI().chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": prompt or body.message}],
            stream=stream,
        )

        async def text() -> AsyncIterator[str]:
            async for chunk in response:  # type: ignore[union-attr]
                yield chunk.choices[0].delta.content or ""

        return StreamingResponse(text(), media_type="text/plain")

    return app


not_streaming = _relay("", stream=False)  # forgot stream=True
unmarked = _relay("a prompt of its own", stream=True)  # drops the user's message


naive = FastAPI()


@naive.post("/chat")
async def naive_chat(body: Message) -> StreamingResponse:
    model = ChatOpenAI(model="gpt-4o-mini", streaming=True)

    async def frames() -> AsyncIterator[str]:
        async for chunk in model.astream(body.message):
            if isinstance(chunk.content, str) and chunk.content:
                yield f"data: {chunk.content}\n\n"
        yield "event: end\ndata:\n\n"

    return StreamingResponse(frames(), media_type="text/event-stream")


@naive.get("/chat")
async def naive_chat_get(message: str) -> StreamingResponse:
    return await naive_chat(Message(message=message))


crashes = FastAPI()  # a worker that dies on a request (a segfault in a native library, say)


@crashes.post("/chat")
async def crash(body: Message) -> PlainTextResponse:
    print("about to crash on", body.message[-19:], flush=True)
    os._exit(1)


mute = FastAPI()  # calls the model, then never answers the client


@mute.post("/chat")
async def mute_chat(body: Message) -> PlainTextResponse:
    stream = await AsyncOpenAI().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": body.message}], stream=True
    )
    async for _ in stream:
        pass
    await asyncio.Event().wait()
    return PlainTextResponse("never")
