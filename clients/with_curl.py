"""``curl -N``: the command line users paste to watch a stream, printing the body as it comes.

``--include`` puts the response head on stdout before the body: it is how the driver
learns status and content type; the body after it is what the terminal shows, decoded
as UTF-8 incrementally (as a terminal does). curl runs in its own session and is ended
by its process group in ``finally``, however the cell ends; ``--max-time`` bounds it
even if this driver never gets to.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import os
import shutil
from collections.abc import Sequence

from streamcompat.clients import trust
from streamcompat.harness.hosts.processes import WARDEN, kill
from streamcompat.harness.kernel.model import Client, ClientFailed, Reporter, Request, Resources

HEAD_LIMIT = 64 * 1024  # a response head larger than this is not one


async def _read(process: asyncio.subprocess.Process, timeout: float) -> bytes:
    assert process.stdout is not None
    try:
        return await asyncio.wait_for(process.stdout.read(65536), timeout)
    except asyncio.TimeoutError:
        raise ClientFailed(f"curl printed nothing for {timeout:g} s (read timeout)") from None


async def _head(process: asyncio.subprocess.Process, timeout: float) -> tuple[str, int, str, bytes]:
    """HTTP version, status, content type and the body bytes read past the head (1xx heads
    skipped)."""
    data = b""
    while True:
        head, blank, rest = data.partition(b"\r\n\r\n")
        if blank:
            status_line, *lines = head.decode("latin-1").split("\r\n")
            version, status = status_line.split()[0], int(status_line.split()[1])
            if status >= 200:
                fields = dict(_field(line) for line in lines)
                return version, status, fields.get("content-type", ""), rest
            data = rest
        elif len(data) > HEAD_LIMIT:
            raise ClientFailed(f"curl printed {len(data)} bytes and no end of a response head")
        elif chunk := await _read(process, timeout):
            data += chunk
        else:  # curl ended before a response: it says why on stderr
            await asyncio.wait_for(process.wait(), timeout)
            raise await _failed(process)


def _field(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name.strip().lower(), value.strip()


async def chunks(request: Request, report: Reporter, resources: Resources) -> None:
    await _chunks(request, report)


async def chunks_h2(request: Request, report: Reporter, resources: Resources) -> None:
    await _chunks(request, report, ["--http2"])


async def _chunks(request: Request, report: Reporter, options: Sequence[str] = ()) -> None:
    curl = shutil.which("curl")
    if curl is None:
        raise ClientFailed("curl is not installed")
    common = ["-sS", "--connect-timeout", "10", "--max-time", f"{request.read_timeout:g}"]
    common += [*options, *(["--cacert", request.ca_file] if request.ca_file else [])]
    args = [curl, "-q"]  # -q first: ignore ~/.curlrc
    if request.first_url:  # keep-alive: one command, two URLs; curl reuses the connection
        args += [*common, "-o", os.devnull, request.first_url, "--next"]
    # -N: write out each read at once, no output buffer.
    args += ["-N", "--include", *common]
    if request.method == "POST":
        args += ["-H", "content-type: application/json", "--data-binary", json.dumps(request.body)]
    args.append(request.url)
    report.requesting()
    process = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its own process group, ended as one
    )
    WARDEN.watch(process.pid)  # ended by the warden should the harness die first
    try:
        version, status, content_type, chunk = await _head(process, request.read_timeout)
        report.spoke(trust.alpn(version))
        report.opened(status, content_type)
        if status >= 400:
            raise ClientFailed(f"HTTP {status}")
        decoder = codecs.getincrementaldecoder("utf-8")("replace")  # reads split UTF-8
        while True:
            if report.stopping():  # the user stops curl: its process (group) ends
                await kill(process, 5)
                report.aborted()
                return
            if text := decoder.decode(chunk):
                report.surfaced(text)
            if not (chunk := await _read(process, request.read_timeout)):
                break
        if tail := decoder.decode(b"", final=True):
            report.surfaced(tail)
        if await asyncio.wait_for(process.wait(), request.read_timeout) != 0:
            raise await _failed(process)
        report.ended()
    finally:
        await kill(process, 5)


async def _failed(process: asyncio.subprocess.Process) -> ClientFailed:
    """curl's own words for why it ended (-sS prints one line on an error)."""
    assert process.stderr is not None
    said = (await process.stderr.read()).decode("utf-8", "replace").strip()
    return ClientFailed(said or f"curl exited with code {process.returncode}")


CLIENT = Client(
    "curl",
    "chunk",
    chunks,
    "curl -N (no buffering), body to stdout",
    group="cli",
    requires=("curl",),
    keeps_connection=True,
)
H2_CLIENT = Client(
    "curl-h2",
    "chunk",
    chunks_h2,
    "curl -N --http2: HTTP/2 where TLS offers it by ALPN (over plain HTTP it asks to upgrade)",
    group="cli",
    requires=("curl",),
    by_default=False,  # over plain HTTP, an h2c upgrade no server of the matrix takes
    keeps_connection=True,
)
