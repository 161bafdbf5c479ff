"""An LLM app as teams write it: FastAPI, langchain-openai's ChatOpenAI, sse-starlette.

Gate it (the harness starts it with OPENAI_BASE_URL at its fake upstream)::

    streamcompat run --app "uvicorn examples.langchain_app:app --port {port}" \\
        --endpoint "POST /chat" --body '{"message": "{prompt}"}'

``GET /chat?message=...`` streams the same, for EventSource (it can only GET)::

    streamcompat run --app "uvicorn examples.langchain_app:app --port {port}" \\
        --endpoint "GET /chat?message={prompt}"

Each token is one SSE event whose data is the token (sse-starlette writes a token that
holds a newline as several ``data:`` lines), then an ``end`` event, so EventSource can
close instead of reconnecting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import FastAPI
from langchain_openai import ChatOpenAI
from pydantic import BaseModel
from sse_starlette import EventSourceResponse

app = FastAPI()


class Message(BaseModel):
    message: str


@app.post("/chat")
async def chat(body: Message) -> EventSourceResponse:
    return EventSourceResponse(events(body.message))


@app.get("/chat")
async def chat_get(message: str) -> EventSourceResponse:
    return EventSourceResponse(events(message))


async def events(message: str) -> AsyncIterator[dict[str, str]]:
    # Reads OPENAI_BASE_URL and OPENAI_API_KEY from the environment.
    model = ChatOpenAI(model="gpt-4o-mini", streaming=True)
    async for chunk in model.astream(message):
        if isinstance(chunk.content, str) and chunk.content:
            yield {"data": chunk.content}
    yield {"event": "end", "data": ""}
