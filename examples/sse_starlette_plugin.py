"""Gate sse-starlette's EventSourceResponse as your app uses it.

streamcompat run --variants examples.sse_starlette_plugin:VARIANTS --baseline mine.json
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from sse_starlette.sse import EventSourceResponse

from streamcompat import Variant


def respond(tokens: AsyncIterator[str]) -> EventSourceResponse:
    async def events() -> AsyncIterator[dict[str, str]]:
        async for token in tokens:
            yield {"data": token}
        yield {"event": "end", "data": ""}  # lets EventSource close instead of reconnecting

    return EventSourceResponse(events())


VARIANTS = [
    Variant("my-sse-starlette", respond, content_type="text/event-stream"),
]
