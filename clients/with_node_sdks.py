"""Node SDK clients: openai-node and the AI SDK's chat client, in the run's Node host.

``openai-node`` is ``chat.completions.create({stream: true})`` read with ``for await``
(``node/openai.mjs``): it reads the ``openai`` codec only, as the Python SDK does. The AI
SDK's chat client (``node/ai_sdk.mjs``) runs headless, as ``useChat`` runs it without
React: ``ai-text`` with its text stream transport reads any body as text (a byte reader,
as ``fetch`` is); ``ai-ui`` with its default transport reads the UI message stream only
(its JSON parts; anything else fails its schema).
"""

from __future__ import annotations

from streamcompat.clients.with_node import run_script
from streamcompat.harness.kernel.model import Client, Reporter, Request, Resources


async def openai_node(request: Request, report: Reporter, resources: Resources) -> None:
    await run_script("node/openai.mjs", "streamcompatOpenAI", request, report, resources)


async def ai_text(request: Request, report: Reporter, resources: Resources) -> None:
    await run_script("node/ai_sdk.mjs", "streamcompatAiText", request, report, resources)


async def ai_ui(request: Request, report: Reporter, resources: Resources) -> None:
    await run_script("node/ai_sdk.mjs", "streamcompatAiUi", request, report, resources)


OPENAI_NODE = Client(
    "openai-node",
    "event",
    openai_node,
    "openai npm package: chat.completions.create({stream: true}), for await, maxRetries 0",
    frozenset({"POST"}),
    group="node",
    codecs=frozenset({"openai"}),
    requires=("node",),
    npm=True,
)
AI_TEXT = Client(
    "ai-text",
    "chunk",
    ai_text,
    "AI SDK chat (ai package, headless AbstractChat) + TextStreamChatTransport: text stream",
    frozenset({"POST"}),
    group="node",
    requires=("node",),
    npm=True,
)
AI_UI = Client(
    "ai-ui",
    "chunk",
    ai_ui,
    "AI SDK chat (ai package, headless AbstractChat) + DefaultChatTransport: UI message stream",
    frozenset({"POST"}),
    group="node",
    codecs=frozenset({"ai-ui"}),
    requires=("node",),
    npm=True,
)
