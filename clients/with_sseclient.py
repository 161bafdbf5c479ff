"""``sseclient-py`` over ``requests``: ``SSEClient(response).events()``, as its README shows.

requests is synchronous, so the cell runs in a worker thread; every read is bounded by
the request's read timeout. SSEClient iterates the response (``iter_content(128)``),
which hands over each piece of a chunked body as it arrives. It does not look at the
content type, and it yields every event, whatever its type: like a browser's
EventSource listener, only events of the variant's token type (``message`` unless it
says otherwise) are shown, and its end marker (``end`` event or end data) ends the stream.
"""

from __future__ import annotations

import asyncio

import sseclient

from streamcompat.clients.events import show
from streamcompat.clients.with_requests import send
from streamcompat.harness.kernel.model import Client, Reporter, Request, Resources


def _read_events(request: Request, report: Reporter) -> None:
    response = send(request, report, headers={"Accept": "text/event-stream"})
    with response:
        report.opened(response.status_code, response.headers.get("content-type", ""))
        response.raise_for_status()
        # As in its README; the stub asks for an Iterator, the library only iterates it.
        client = sseclient.SSEClient(response)  # type: ignore[arg-type]
        for event in client.events():
            if report.stopping():
                break  # the user's stop: leaving ``with`` closes the response
            if show(event.event, event.data, request, report):
                return
        else:
            report.ended("the body ended without an end marker")
            return
    report.aborted()


async def events(request: Request, report: Reporter, resources: Resources) -> None:
    await asyncio.to_thread(_read_events, request, report)


CLIENT = Client(
    "requests-sseclient",
    "event",
    events,
    "sseclient-py SSEClient(requests response).events()",
    group="python",
    keeps_connection=True,
)
