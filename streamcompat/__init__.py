"""streamcompat: does every client show your streamed LLM tokens intact, as they come?

The public API, for plug-in variants (``streamcompat run --variants mypkg:VARIANTS``)::

    from streamcompat import Variant, framed, sse

Installed, the tool is this one package: ``streamcompat.harness`` (the runner, verdicts,
reports, the CLI), ``streamcompat.servers`` (the variant server) and
``streamcompat.clients`` (one driver per client), so a project's own ``harness``,
``servers`` or ``clients`` can never shadow them. In a checkout they are the top-level
folders of the repository, mapped into this package by the (editable) install.
"""

from __future__ import annotations

from streamcompat.harness.kernel.model import Client, ResponseFactory, Variant, Verdict
from streamcompat.servers.framings import (
    SSE_END,
    ASGIResponse,
    framed,
    ndjson,
    openai_chunk,
    openai_error,
    prefix_suffix,
    raw,
    sse,
    sse_error_event,
    sse_json,
    sse_lines,
    streaming,
)
from streamcompat.servers.variants import VARIANTS

__all__ = [
    "SSE_END",
    "VARIANTS",
    "ASGIResponse",
    "Client",
    "ResponseFactory",
    "Variant",
    "Verdict",
    "framed",
    "ndjson",
    "openai_chunk",
    "openai_error",
    "prefix_suffix",
    "raw",
    "sse",
    "sse_error_event",
    "sse_json",
    "sse_lines",
    "streaming",
]
