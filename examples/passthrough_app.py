"""An app that passes the OpenAI SDK's stream through as plain text, delta by delta.

Gate it (the harness starts it with OPENAI_BASE_URL at its fake upstream)::

    streamcompat run --app "uvicorn examples.passthrough_app:app --port {port}" \\
        --endpoint "POST /chat" --body '{"message": "{prompt}"}'
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from openai import AsyncOpenAI
from pydantic import BaseModel

app = FastAPI()


class Message(BaseModel):
    message: str


@app.post("/chat")
async def chat(body: Message) -> StreamingResponse:
    client = AsyncOpenAI()  # reads OPENAI_BASE_URL and OPENAI_API_KEY
    stream = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": body.message}],
        stream=True,
    )

    async def deltas() -> AsyncIterator[str]:
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content

    return StreamingResponse(deltas(), media_type="text/plain; charset=utf-8")
