"""The built-in variants. Adding one is adding an entry here; nothing else changes."""

from __future__ import annotations

from servers.framings import SSE_END, framed, raw, sse, sse_json

VARIANTS = (
    framed(
        "raw",
        "text/plain",
        raw,
        description="text/plain, tokens written as they come (fetch-style streaming)",
    ),
    framed(
        "raw-event-stream",
        "text/event-stream",
        raw,
        description="text/event-stream with no SSE framing at all (lanarky before 0.8, #121)",
    ),
    framed(
        "sse",
        "text/event-stream",
        sse,
        end=SSE_END,
        description="spec-correct SSE: a data: line per token line, blank-line end, end event",
    ),
    framed(
        "sse-json",
        "text/event-stream",
        sse_json,
        codec="json:token",
        end=SSE_END,
        description='SSE whose data is {"token": ...} (lanarky\'s JSON mode), end event',
    ),
)
