"""The seed's app (lanarky #121): lanarky 0.7.16's ``StreamingResponse.from_chain`` over a
langchain ``ConversationChain`` with ``ChatOpenAI(streaming=True)``, as its README had it.

Its tokens go out as they are, under ``text/event-stream``, with no ``data:`` and no blank
line: ``fetch`` shows them, EventSource sees no event, axios awaited shows nothing until
the end. lanarky 0.7.16 needs its own era's libraries (langchain 0.0.306, openai 0.27,
pydantic 1), which streamcompat's own (langchain-core >= 0.3) conflict with; app mode
runs the app as a process, so it gets a virtualenv of its own::

    uv venv .lanarky07 && uv pip install --python .lanarky07/bin/python \\
        -r examples/lanarky07-requirements.txt
    streamcompat run --app ".lanarky07/bin/uvicorn examples.lanarky07_app:app --port {port}" \\
        --endpoint "POST /chat" --body '{"query": "{prompt}"}' --app-name lanarky07-app

``GET /chat?query=...`` streams the same, for EventSource (it can only GET): the row
pinned in the tests (``--endpoint "GET /chat?query={prompt}"``) has every client in it.
This module imports only in that virtualenv.
"""

from __future__ import annotations

from fastapi import FastAPI
from lanarky.responses import StreamingResponse
from langchain.chains import ConversationChain
from langchain.chat_models import ChatOpenAI
from pydantic import BaseModel

app = FastAPI()


class Request(BaseModel):
    query: str


@app.post("/chat")
async def chat(request: Request) -> StreamingResponse:
    return stream(request.query)


@app.get("/chat")
async def chat_get(query: str) -> StreamingResponse:
    return stream(query)


def stream(query: str) -> StreamingResponse:
    # ChatOpenAI reads OPENAI_API_BASE and OPENAI_API_KEY (openai < 1) from the environment.
    chain = ConversationChain(llm=ChatOpenAI(temperature=0, streaming=True), verbose=True)
    return StreamingResponse.from_chain(chain, query, media_type="text/event-stream")
