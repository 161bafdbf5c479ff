"""What an SSE client's user does with each event, shared by the Python SSE drivers.

Its JS twin, for browser pages and the Node host, is ``streamcompatShow`` in
``harness/hosts/scripts.js``; ``tests/integration/test_report_protocol.py`` keeps the two the same.
"""

from __future__ import annotations

from streamcompat.harness.kernel.model import ClientFailed, Reporter, Request

#: The event type servers report a failure with (langserve; EventSource fires ``onerror``
#: for it): the user's code raises, as langserve's RemoteRunnable does.
ERROR_EVENT = "error"


def show(event_type: str, data: str, request: Request, report: Reporter) -> bool:
    """Surface a token event's data; True (and ``ended``) at the variant's end marker;
    ClientFailed at an ``error`` event."""
    if event_type == ERROR_EVENT:
        raise ClientFailed(f"the server sent an error event: {data}")
    if event_type == request.end_event:
        report.ended("end event")
        return True
    if event_type == request.event:
        if data == request.end_data:  # e.g. OpenAI's data: [DONE]
            report.ended("end data")
            return True
        report.surfaced(data)
    return False
