"""Gate lanarky 0.8.8's StreamingResponse the way its langchain adapter streams tokens.

    pip install streamcompat lanarky==0.8.8
    streamcompat run --variants examples.lanarky_plugin:VARIANTS --baseline lanarky.json

lanarky 0.8.8 pins sse-starlette < 2 and httpx-sse < 0.4, which is why those two are
extras of streamcompat (``streamcompat[sse]``): here they stay lanarky's. Each token is
an SSE event of type ``completion`` whose data is the token (lanarky's text mode); the
stream has no end event, so EventSource reconnects and replays it when it ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from streamcompat import Variant


def respond(tokens: AsyncIterator[str]) -> Any:
    from lanarky.events import Events, ServerSentEvent
    from lanarky.responses import StreamingResponse

    async def events() -> AsyncIterator[ServerSentEvent]:
        async for token in tokens:
            yield ServerSentEvent(data=token, event=Events.COMPLETION)

    return StreamingResponse(events())


VARIANTS = [
    Variant(
        "lanarky-0.8.8",
        respond,
        content_type="text/event-stream",
        event="completion",
        description="lanarky 0.8.8 StreamingResponse, completion events, no end event",
        modules=("lanarky",),
    ),
]
