"""Reading the gated fake upstream (``servers.upstream``) as an LLM app does: a streamed
chat completion from ``$OPENAI_BASE_URL`` with the stream's marker in its prompt, its
tokens handed on as they come. The relays under the named servers read it: the ASGI one
(``servers.relay``) with an async client, the WSGI one (``servers.relay_wsgi``) with a
sync client, as a sync app would. One decoder, fed bytes, serves both.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

from streamcompat.servers.peers import PACED, PEER_HEADER, PULL_HEADER, WANT_PATH

#: The stream's marker in the prompt (``harness.engine.app.marker``).
MARKER = "sc-{stream}"
PROMPT = "Say something that breaks clients."
#: Connecting to the upstream (loopback) is bounded; reading is not: the harness's
#: lockstep holds each token back, and ends the stream by its deadline.
CONNECT_S = 10.0


class UpstreamFailed(RuntimeError):
    """The upstream's stream broke off or said it failed: what an LLM SDK raises."""


class CompletionDecoder:
    """Fed the upstream's body as it comes, returns the tokens completed so far; ``done``
    once ``data: [DONE]`` was read; ``paced`` once the upstream said the client left and
    each further token is to be asked for (``servers.peers.PACED``: ``taken``)."""

    def __init__(self) -> None:
        self.pending = b""
        self.done = False
        self.paced = False
        self.handed = 0  # tokens the reader's response has taken

    def taken(self) -> int:
        """The response took one more token and waits for the next: the token to ask the
        upstream for, or 0 while it need not be asked for (the client has not left)."""
        self.handed += 1
        return self.handed + 1 if self.paced else 0

    def feed(self, data: bytes) -> list[str]:
        self.pending += data
        # Split on LF only: a token's own line breaks are inside its JSON.
        *lines, self.pending = self.pending.split(b"\n")
        tokens = []
        for line in lines:
            if line == _PACED:
                self.paced = True
            if self.done or not line.startswith(b"data: "):
                continue
            if line == b"data: [DONE]":
                self.done = True
                continue
            chunk: Any = json.loads(line[len(b"data: ") :])
            token = (chunk.get("choices") or [{}])[0].get("delta", {}).get("content")
            if token:
                tokens.append(token)
        return tokens


_PACED = PACED.encode()


def request_body(stream: str, prompt: str) -> dict[str, Any]:
    return {
        "model": "streamcompat-fake",
        "stream": True,
        "messages": [{"role": "user", "content": f"{prompt} {MARKER.format(stream=stream)}"}],
    }


def _base() -> str:
    return os.environ.get("OPENAI_BASE_URL", "").rstrip("/")


_async_client: httpx.AsyncClient | None = None
_sync_client: httpx.Client | None = None


def _async() -> httpx.AsyncClient:
    """One client per process (a worker's own), made in its event loop on first use."""
    global _async_client
    if _async_client is None:
        _async_client = httpx.AsyncClient(
            base_url=_base(), timeout=httpx.Timeout(None, connect=CONNECT_S), trust_env=False
        )
    return _async_client


def _sync() -> httpx.Client:
    """One client per process, made after the server forked its worker (and gevent's
    worker patched its sockets)."""
    global _sync_client
    if _sync_client is None:
        _sync_client = httpx.Client(
            base_url=_base(), timeout=httpx.Timeout(None, connect=CONNECT_S), trust_env=False
        )
    return _sync_client


def _peer(peer: str) -> dict[str, str]:
    """The relay's word on its client's connection (``servers.peers``), for the stream's
    record at the upstream: the keep-alive scenario's evidence."""
    return {PEER_HEADER: peer} if peer else {}


def _headers(peer: str) -> dict[str, str]:
    """A stream's call: ``_peer``, and that this relay paces a stream its client left."""
    return {PULL_HEADER: "1", **_peer(peer)}


def _want(stream: str, k: int) -> dict[str, Any]:
    return {"url": WANT_PATH, "params": {"stream": stream, "k": k}, "timeout": CONNECT_S}


async def _pull(stream: str, k: int) -> None:
    """This relay's response waits for token ``k`` (``Gate.pull``): ask the upstream for it.
    A failed ask is the upstream gone; reading the stream then says so."""
    with contextlib.suppress(httpx.HTTPError):
        await _async().post(**_want(stream, k))


def _pull_sync(stream: str, k: int) -> None:
    """``_pull``, by the sync client."""
    with contextlib.suppress(httpx.HTTPError):
        _sync().post(**_want(stream, k))


async def upstream_tokens(stream: str, prompt: str, peer: str = "") -> AsyncIterator[str]:
    """The upstream's tokens for ``stream``, as it streams them; UpstreamFailed if its
    stream ends without ``[DONE]`` or breaks off. ``peer``: the client's connection, as
    the relay saw it."""
    decoder = CompletionDecoder()
    try:
        body = request_body(stream, prompt)
        call = _async().stream("POST", "/chat/completions", json=body, headers=_headers(peer))
        async with call as response:
            if response.status_code != 200:
                raise UpstreamFailed(f"the upstream answered {response.status_code}")
            async for data in response.aiter_bytes():
                for token in decoder.feed(data):
                    yield token
                    if k := decoder.taken():
                        await _pull(stream, k)
                if decoder.done:
                    return
    except httpx.HTTPError as exc:
        raise UpstreamFailed(f"the upstream's stream broke off: {exc!r}") from exc
    raise UpstreamFailed("the upstream's stream ended without [DONE]")


def upstream_tokens_sync(stream: str, prompt: str, peer: str = "") -> Iterator[str]:
    """``upstream_tokens``, read by a sync client (a WSGI app's thread or greenlet)."""
    decoder = CompletionDecoder()
    try:
        body = request_body(stream, prompt)
        call = _sync().stream("POST", "/chat/completions", json=body, headers=_headers(peer))
        with call as response:
            if response.status_code != 200:
                raise UpstreamFailed(f"the upstream answered {response.status_code}")
            for data in response.iter_bytes():
                for token in decoder.feed(data):
                    yield token
                    if k := decoder.taken():
                        _pull_sync(stream, k)
                if decoder.done:
                    return
    except httpx.HTTPError as exc:
        raise UpstreamFailed(f"the upstream's stream broke off: {exc!r}") from exc
    raise UpstreamFailed("the upstream's stream ended without [DONE]")


async def hello(stream: str, peer: str) -> tuple[int, str]:
    """The keep-alive scenario's first request, passed on to the upstream with the
    connection it came on (``peer``): its status and text, or 502 and why."""
    try:
        said = await _async().get("/_sc/hello", params={"stream": stream}, headers=_peer(peer))
    except httpx.HTTPError as exc:
        return 502, f"the upstream did not answer: {exc!r}"
    return said.status_code, said.text


def hello_sync(stream: str, peer: str) -> tuple[int, str]:
    """``hello``, by the sync client."""
    try:
        said = _sync().get("/_sc/hello", params={"stream": stream}, headers=_peer(peer))
    except httpx.HTTPError as exc:
        return 502, f"the upstream did not answer: {exc!r}"
    return said.status_code, said.text
