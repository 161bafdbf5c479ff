"""Variants for the pitfalls of HTTP/2 on the path, outside the default run:

    streamcompat run --variants streamcompat.servers.pitfalls:VARIANTS --network tls

An HTTP/2 response must not carry hop-by-hop headers (RFC 9113, 8.2.2): WebKit drops a
stream whose response says ``Connection: keep-alive`` (bartblast/hologram#1262), which
apps copy from HTTP/1.1 examples (the AI SDK's UI message stream sends it). And a
``Content-Length`` on a streamed response (typescript-sdk#1619 met it as an h2
PROTOCOL_ERROR) turns off chunking: the proxy and the client are told the body's size
before its first byte. Both variants are the spec-correct ``sse`` stream with one change.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.responses import StreamingResponse

from streamcompat.harness.kernel.model import Variant
from streamcompat.servers.framings import SCRIPT, SSE_END, framed, sse, streaming

EVENT_STREAM = "text/event-stream"


def _sse_with_length(tokens: AsyncIterator[str]) -> StreamingResponse:
    """``sse``, with the exact length of the body it will stream (the request's script)."""
    body = "".join(sse(token) for token in SCRIPT.get()) + SSE_END
    length = {"content-length": str(len(body.encode("utf-8")))}
    response: StreamingResponse = streaming(sse, EVENT_STREAM, end=SSE_END, headers=length)(tokens)
    return response


VARIANTS: tuple[Variant, ...] = (
    framed("sse-keep-alive", EVENT_STREAM, sse, end=SSE_END,
           headers={"connection": "keep-alive", "keep-alive": "timeout=5"},
           description="spec-correct SSE sent with hop-by-hop Connection: keep-alive and "
           "Keep-Alive headers, as HTTP/1.1 examples write them (forbidden in HTTP/2)"),
    Variant("sse-content-length", _sse_with_length, content_type=EVENT_STREAM,
            description="spec-correct SSE with a Content-Length (the exact length): a stream "
            "whose size is told before its first byte, no chunked encoding"),
)  # fmt: skip
