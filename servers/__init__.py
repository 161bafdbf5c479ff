"""Variant servers: a FastAPI app streaming gated langchain tokens in many framings.

Plug-in variants use the same type as the built-ins::

    from streamcompat import Variant, framed, streaming
"""

from streamcompat.harness.model import ResponseFactory, Variant
from streamcompat.servers.framings import SSE_END, framed, raw, sse, sse_json, streaming
from streamcompat.servers.variants import VARIANTS

__all__ = [
    "SSE_END",
    "VARIANTS",
    "ResponseFactory",
    "Variant",
    "framed",
    "raw",
    "sse",
    "sse_json",
    "streaming",
]
