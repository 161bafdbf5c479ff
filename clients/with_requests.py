"""``requests`` clients: ``iter_content(chunk_size=None)`` and ``iter_lines()``.

requests is synchronous, so each cell runs in a worker thread; every read is bounded
by the request's read timeout, so the thread ends even if the server stalls.
"""

from __future__ import annotations

import asyncio
import codecs

import requests

from streamcompat.harness.kernel.model import Client, ClientFailed, Reporter, Request, Resources


def send(
    request: Request, report: Reporter, headers: dict[str, str] | None = None
) -> requests.Response:
    """The stream's response, as ``requests.post(..., stream=True)`` gives it (one session
    per call); in the keep-alive scenario after a first request in that session, whose
    connection urllib3 then reuses."""
    timeout = (10.0, request.read_timeout)
    verify = request.ca_file or True  # a private CA, as requests' users give it
    body = request.body if request.method == "POST" else None
    with requests.Session() as http:
        if request.first_url:  # read whole: its connection goes back to the pool
            first = http.get(request.first_url, timeout=timeout, verify=verify)
            if not first.ok:
                raise ClientFailed(f"the first request: HTTP {first.status_code}")
        report.requesting()
        response = http.request(
            request.method,
            request.url,
            json=body,
            headers=headers,
            stream=True,
            timeout=timeout,
            verify=verify,
        )
    report.spoke(http_version(response))
    return response


def http_version(response: requests.Response) -> str:
    """The version urllib3 read in the status line (requests speaks HTTP/1.x only)."""
    return {10: "http/1.0", 11: "http/1.1"}.get(getattr(response.raw, "version", 0), "")


def _read_chunks(request: Request, report: Reporter) -> None:
    with send(request, report) as response:
        report.opened(response.status_code, response.headers.get("content-type", ""))
        response.raise_for_status()
        # decode_unicode uses an incremental decoder for the response's charset;
        # without a charset requests yields bytes, which a careful user decodes as UTF-8.
        fallback = codecs.getincrementaldecoder("utf-8")("replace")
        for chunk in response.iter_content(chunk_size=None, decode_unicode=True):
            if report.stopping():
                break  # the user's stop: leaving ``with`` closes the response
            text = chunk if isinstance(chunk, str) else fallback.decode(chunk)
            if text:
                report.surfaced(text)
        else:
            report.ended()
            return
    report.aborted()


def _read_lines(request: Request, report: Reporter) -> None:
    with send(request, report) as response:
        report.opened(response.status_code, response.headers.get("content-type", ""))
        response.raise_for_status()
        for line in response.iter_lines(decode_unicode=True):
            if report.stopping():
                break
            report.surfaced(line if isinstance(line, str) else line.decode("utf-8", "replace"))
        else:
            report.ended()
            return
    report.aborted()


async def chunks(request: Request, report: Reporter, resources: Resources) -> None:
    await asyncio.to_thread(_read_chunks, request, report)


async def lines(request: Request, report: Reporter, resources: Resources) -> None:
    await asyncio.to_thread(_read_lines, request, report)


CHUNKS = Client(
    "requests",
    "chunk",
    chunks,
    "requests, iter_content(chunk_size=None, decode_unicode=True)",
    keeps_connection=True,
)
LINES = Client("requests-lines", "line", lines, "requests, iter_lines()", keeps_connection=True)
