"""Variants for the pitfalls of HTTP/2 on the path, outside the default run:

    streamcompat run --variants streamcompat.servers.pitfalls:VARIANTS --network tls

An HTTP/2 response must not carry hop-by-hop headers (RFC 9113, 8.2.2): WebKit drops a
stream whose response says ``Connection: keep-alive`` (bartblast/hologram#1262), which
apps copy from HTTP/1.1 examples (the AI SDK's UI message stream sends it). A proxy that
translates HTTP/1.1 to h2 should strip it; a server that speaks h2 itself must not send
it. The variant is the spec-correct ``sse`` stream with the header added.
"""

from __future__ import annotations

from streamcompat.harness.kernel.model import Variant
from streamcompat.servers.framings import SSE_END, framed, sse

EVENT_STREAM = "text/event-stream"

VARIANTS: tuple[Variant, ...] = (
    framed("sse-keep-alive", EVENT_STREAM, sse, end=SSE_END,
           headers={"connection": "keep-alive", "keep-alive": "timeout=5"},
           description="spec-correct SSE sent with hop-by-hop Connection: keep-alive and "
           "Keep-Alive headers, as HTTP/1.1 examples write them (forbidden in HTTP/2)"),
)  # fmt: skip
