"""The OpenAI Python SDK: ``chat.completions.create(stream=True)``, read with ``async for``.

The SDK posts to ``{base_url}/chat/completions``, so ``base_url`` is the variant's URL
and the variant answers at ``/v/<name>/chat/completions``. The body is an OpenAI
request, whose ``"stream"`` is the boolean flag, so the stream id goes in the query
(``?stream=<id>``), as it does for GET.

The SDK hands its user ``ChatCompletionChunk`` objects; the driver surfaces each as JSON
(``model_dump_json()``), which the ``openai`` codec reads back to
``choices[0].delta.content`` — what the user prints, as parsed by the SDK. Chunks with
no choices (usage, Azure's content-filter preamble) carry no text and would make
``choices[0]`` raise; the usual careful loop skips them, and so does this one.
"""

from __future__ import annotations

import openai

from streamcompat.clients import trust
from streamcompat.harness.kernel.model import Client, Reporter, Request, Resources


async def events(request: Request, report: Reporter, resources: Resources) -> None:
    stream_id = str(request.body.get("stream", request.cell_id))
    prompt = str(request.body.get("prompt", ""))
    timeout = openai.Timeout(request.read_timeout, connect=10.0)  # bounds each read
    # No retries: a retry would open a second stream under the same id.
    async with openai.AsyncOpenAI(
        base_url=request.url.partition("?")[0],
        api_key="x",
        timeout=timeout,
        max_retries=0,
        http_client=openai.DefaultAsyncHttpxClient(
            timeout=timeout, verify=trust.context(request.ca_file, "openai")
        ),
    ) as client:
        report.requesting()
        try:
            chunks = await client.chat.completions.create(
                model="streamcompat",
                messages=[{"role": "user", "content": prompt}],
                stream=True,
                extra_query={"stream": stream_id},
            )
        except openai.APIStatusError as exc:  # the SDK raises on a non-2xx head
            report.opened(exc.status_code, exc.response.headers.get("content-type", ""))
            raise
        async with chunks:
            report.spoke(trust.alpn(chunks.response.http_version))
            report.opened(
                chunks.response.status_code, chunks.response.headers.get("content-type", "")
            )
            async for chunk in chunks:  # ends at ``data: [DONE]`` (or the end of the body)
                if report.stopping():
                    break  # the user's stop: leaving ``async with`` calls its close()
                if chunk.choices:
                    report.surfaced(chunk.model_dump_json())
            else:
                report.ended()
                return
    report.aborted()


CLIENT = Client(
    "openai",
    "event",
    events,
    "OpenAI SDK AsyncOpenAI.chat.completions.create(stream=True)",
    frozenset({"POST"}),
    group="python",
    codecs=frozenset({"openai"}),
)
