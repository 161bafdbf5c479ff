"""streamcompat: does every client show your streamed LLM tokens intact, as they come?

The public API, for plug-in variants (``streamcompat run --variants mypkg:VARIANTS``)::

    from streamcompat import Variant, framed, sse

Installed, the tool is this one package: ``streamcompat.harness`` (the runner, verdicts,
reports, the CLI), ``streamcompat.servers`` (the variant server) and
``streamcompat.clients`` (one driver per client), so a project's own ``harness``,
``servers`` or ``clients`` can never shadow them. In a checkout they are the top-level
folders of the repository.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

# A checkout keeps harness/, servers/ and clients/ at the top of the repository (the
# design card's layout): there this package's subpackages are found beside it.
_here = Path(__file__).resolve().parent
if not (_here / "harness").is_dir() and (_here.parent / "harness" / "__init__.py").is_file():
    __path__.append(str(_here.parent))

#: Public name -> the module that defines it. Imported on first use: a child process
#: (a proxy, the variant server) should not pay for what it does not need.
_PUBLIC = {
    "Variant": "streamcompat.harness.model",
    "ResponseFactory": "streamcompat.harness.model",
    "Client": "streamcompat.harness.model",
    "Verdict": "streamcompat.harness.model",
    "ASGIResponse": "streamcompat.servers.framings",
    "SSE_END": "streamcompat.servers.framings",
    "framed": "streamcompat.servers.framings",
    "ndjson": "streamcompat.servers.framings",
    "openai_chunk": "streamcompat.servers.framings",
    "openai_error": "streamcompat.servers.framings",
    "sse_error_event": "streamcompat.servers.framings",
    "prefix_suffix": "streamcompat.servers.framings",
    "raw": "streamcompat.servers.framings",
    "sse": "streamcompat.servers.framings",
    "sse_json": "streamcompat.servers.framings",
    "sse_lines": "streamcompat.servers.framings",
    "streaming": "streamcompat.servers.framings",
    "VARIANTS": "streamcompat.servers.variants",
}

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


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'streamcompat' has no attribute {name!r}")


if TYPE_CHECKING:
    from streamcompat.harness.model import Client, ResponseFactory, Variant, Verdict
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
