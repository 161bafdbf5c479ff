"""What the Python drivers share about the connection: the TLS context they trust the
run's CA with, and the HTTP version their library says it used, in ALPN's words.
"""

from __future__ import annotations

import functools
import ssl

#: HTTP versions as the libraries print them, as ALPN names them (``Facts.protocol``).
_ALPN = {"HTTP/1.0": "http/1.0", "HTTP/1.1": "http/1.1", "HTTP/2": "h2", "HTTP/2.0": "h2"}


@functools.cache
def context(ca_file: str = "", library: str = "") -> ssl.SSLContext:
    """One TLS context per CA and ``library`` for every cell of the run, as an app holding
    one client has, trusting ``ca_file`` as well as the system's CAs (a private CA, as
    users add it).

    httpx and aiohttp build (and load the CA store into) a new one per client otherwise:
    ~80 ms of CPU per cell. Not one for all: httpx sets the context's ALPN protocols on
    every connection (h2 and http/1.1 with ``http2=True``), so a context shared with
    aiohttp, which speaks HTTP/1.1 only, would have it offer h2 too and read the HTTP/2
    frames a proxy then sends as a bad status line.
    """
    made = ssl.create_default_context()
    if ca_file:
        made.load_verify_locations(cafile=ca_file)
    return made


def alpn(version: str) -> str:
    """``HTTP/1.1`` (httpx, curl), ``HTTP/2`` (curl) or ``HTTP/2.0`` as ALPN's ``h2``."""
    return _ALPN.get(version.strip().upper(), version.strip().lower())
