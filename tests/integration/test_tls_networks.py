"""TLS and HTTP/2 on the path: the real proxies' h2 presets present the run's certificate
and speak HTTP/2 by ALPN to a client that trusts the run's CA, forward HTTP/1.x to the
upstream, listen on loopback only and leave nothing; a user's own TLS config runs with
the run's certificate; a run leaves no certificate or key behind."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from streamcompat.clients import trust
from streamcompat.harness.hosts.proxies import PROXIES, listening, running
from streamcompat.harness.hosts.tls import authority
from streamcompat.harness.kernel.networks import NETWORK_GROUPS, network
from tests.integration.test_real_proxies import PIECES, _gone, _group_of, upstream
from tests.support import CLI, ROOT

H2 = [
    pytest.param(
        name,
        marks=pytest.mark.skipif(
            PROXIES[str(network(name).proxy)].binary() is None,
            reason=f"{network(name).proxy} not installed",
        ),
    )
    for name in NETWORK_GROUPS["tls"]
    if network(name).proxy  # direct-tls is the variant server's own TLS
]
#: Whether the preset forwards each piece as it reads it (nginx buffers by default).
LIVE = {"nginx-h2": False, "caddy-h2": True}


@pytest.mark.parametrize("name", H2)
def test_an_h2_preset_speaks_http2_with_the_runs_certificate_on_loopback(name: str) -> None:
    record = network(name)
    kind = PROXIES[str(record.proxy)]

    async def main() -> tuple[str, str, list[bytes], list[tuple[str, int]], int]:
        with authority() as made:
            async with (
                upstream() as up,
                running(kind, up.port, preset=record.preset, tls=made) as origin,
            ):
                group = _group_of(origin)
                verify = trust.context(str(made.ca))
                if not LIVE[name]:  # it holds even the head back until body bytes come
                    for piece in (*PIECES, None):
                        await up.release.put(piece)
                async with (
                    httpx.AsyncClient(http2=True, verify=verify, timeout=10) as http,
                    http.stream("GET", f"{origin}/") as response,
                ):
                    got: list[bytes] = []
                    seen = b""
                    chunks = response.aiter_raw()
                    for piece in PIECES if LIVE[name] else ():
                        await up.release.put(piece)
                        while piece not in seen:  # each piece before the next is sent
                            seen += await asyncio.wait_for(anext(chunks), 10)
                        got.append(piece)
                    if LIVE[name]:
                        await up.release.put(None)
                    async for chunk in chunks:
                        seen += chunk
                    got = got or [p for p in PIECES if p in seen]
                    assert seen == b"".join(PIECES)
                    return origin, response.http_version, got, listening(group), group
        raise AssertionError("unreachable")

    origin, version, got, listens, group = asyncio.run(main())
    assert origin.startswith("https://127.0.0.1:")
    assert version == "HTTP/2"
    assert got == PIECES
    assert listens and {a for a, _ in listens} == {"127.0.0.1"}
    assert _gone(group)


@pytest.mark.parametrize("name", H2)
def test_a_client_without_the_runs_ca_is_refused(name: str) -> None:
    record = network(name)

    async def main() -> BaseException | None:
        with authority() as made:
            async with (
                upstream() as up,
                running(PROXIES[str(record.proxy)], up.port, preset=record.preset, tls=made) as o,
                httpx.AsyncClient(http2=True, timeout=10) as http,
            ):
                try:
                    await http.get(o)
                except httpx.ConnectError as exc:
                    return exc
        return None

    assert "CERTIFICATE_VERIFY_FAILED" in str(asyncio.run(main()))


@pytest.mark.skipif(PROXIES["nginx"].binary() is None, reason="nginx not installed")
def test_a_users_tls_config_runs_with_the_runs_certificate_and_leaves_none(
    tmp_path: Path,
) -> None:
    user = tmp_path / "site.conf"
    user.write_text(
        "server {\n    listen @LISTEN@ ssl http2;\n    ssl_certificate @CERT@;\n"
        "    ssl_certificate_key @KEY@;\n    location / {\n"
        "        proxy_pass http://@UPSTREAM@;\n        proxy_buffering off;\n    }\n}\n"
    )
    temp = tmp_path / "tmp"
    temp.mkdir()
    run = subprocess.run(
        [*CLI, "run", "--variant", "raw", "--clients", "httpx-h2,curl-h2,requests",
         "--network", f"nginx:{user}", "--results", str(tmp_path / "r"),
         "--baseline", str(tmp_path / "none.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
        env={**os.environ, "TMPDIR": str(temp)},
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    cells = json.loads((tmp_path / "r" / "index.json").read_text())["cells"]
    got = {c["client"]: (c["verdict"], c["protocol"]) for c in cells}
    assert got == {
        "httpx-h2": ("PASS", "h2"),
        "curl-h2": ("PASS", "h2"),
        "requests": ("PASS", "http/1.1"),  # requests speaks HTTP/1.1 only, over TLS too
    }
    # The run's CA, certificate and key were made in TMPDIR, and are gone with the run.
    assert not [p for p in tmp_path.rglob("*") if p.suffix == ".pem" or "tls" in p.name]


@pytest.mark.skipif(PROXIES["caddy"].binary() is None, reason="caddy not installed")
def test_a_seventh_browser_stream_waits_over_http1_and_not_over_h2(tmp_path: Path) -> None:
    """Chromium opens 6 HTTP/1.1 connections per origin: the 7th stream's request leaves
    the browser only once another stream has ended (freenet-core#5213); over HTTP/2 the
    7 share one connection and none waits."""
    run = subprocess.run(
        [*CLI, "run", "--scenario", "many", "--variant", "raw,sse",
         "--clients", "browser-fetch,browser-eventsource", "--network", "direct,caddy-h2",
         "--results", str(tmp_path / "r"), "--baseline", str(tmp_path / "none.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    cells = json.loads((tmp_path / "r" / "index.json").read_text())["cells"]
    got = {
        (c["network"], c["client"]): (c["verdict"], c["protocol"])
        for c in cells
        if (c["variant"], c["client"]) in {("raw", "browser-fetch"), ("sse", "browser-eventsource")}
    }
    assert got == {
        ("direct", "browser-fetch"): ("BUFFERED", "http/1.1"),
        ("direct", "browser-eventsource"): ("BUFFERED", "http/1.1"),
        ("caddy-h2", "browser-fetch"): ("PASS", "h2"),
        ("caddy-h2", "browser-eventsource"): ("PASS", "h2"),
    }
    held = [c["detail"] for c in cells if c["network"] == "direct" and c["verdict"] == "BUFFERED"]
    assert all("the client held its request back" in d and "(streams: 6 PASS, 1 BUFFERED)" in d
               for d in held)  # fmt: skip


async def _keep_alive_upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: keep-alive\r\n"
        b"keep-alive: timeout=5\r\ncontent-length: 8\r\n\r\ndata: x\n"
    )
    await writer.drain()
    writer.close()


@pytest.mark.parametrize("name", H2)
def test_an_h2_proxy_strips_the_hop_by_hop_headers_an_app_sends(name: str) -> None:
    """HTTP/2 forbids Connection and Keep-Alive (RFC 9113, 8.2.2; WebKit drops a stream
    that has them): the proxies translating HTTP/1.1 to h2 here take them out."""
    record = network(name)

    async def main() -> tuple[str, dict[str, str]]:
        with authority() as made:
            upstream = await asyncio.start_server(_keep_alive_upstream, "127.0.0.1", 0)
            port = upstream.sockets[0].getsockname()[1]
            async with (
                upstream,
                running(PROXIES[str(record.proxy)], port, preset=record.preset, tls=made) as o,
                httpx.AsyncClient(http2=True, verify=trust.context(str(made.ca)), timeout=10) as h,
            ):
                response = await h.get(o)
                return response.http_version, dict(response.headers)

    version, headers = asyncio.run(main())
    assert version == "HTTP/2"
    assert "connection" not in headers and "keep-alive" not in headers
    assert headers["content-type"] == "text/event-stream"


#: Where a pitfall variant's cell differs from spec-correct ``sse``'s (measured): with a
#: Content-Length urllib3 fills each of sseclient-py's 128-byte reads before handing it on
#: (a chunked body hands each chunk over), so small events wait for later bytes.
PITFALLS_DIFFER = {
    ("sse-content-length", "requests-sseclient", "direct-tls"): "BUFFERED",
    ("sse-content-length", "requests-sseclient", "caddy-h2"): "BUFFERED",
}


@pytest.mark.skipif(not H2, reason="neither nginx nor caddy installed")
def test_the_h2_pitfalls_get_what_spec_correct_sse_gets_but_where_measured(
    tmp_path: Path,
) -> None:
    """servers/pitfalls.py's variants are `sse` plus hop-by-hop headers (over HTTP/1.1,
    direct-tls, they reach the client; over h2 the proxy strips them) or plus an exact
    Content-Length; no client here minds the first (WebKit would: #17's engines), one
    minds the second."""
    clients = "browser-eventsource,browser-fetch-sse,httpx-sse,httpx-h2,curl-h2,requests-sseclient"
    networks = ["direct-tls", *(p.values[0] for p in H2)]
    run = subprocess.run(
        [*CLI, "run", "--variants", "streamcompat.servers.pitfalls:VARIANTS",
         "--clients", clients, "--network", ",".join(networks),
         "--results", str(tmp_path / "r"), "--baseline", str(tmp_path / "none.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    pinned = json.loads((ROOT / "compat-h2-baseline.json").read_text())["cells"]
    cells = json.loads((tmp_path / "r" / "index.json").read_text())["cells"]
    assert len(cells) == 2 * 6 * len(networks)
    for c in cells:
        at = (c["variant"], c["client"], c["network"])
        sse = pinned[f"sse × {c['client']} × {c['network']}"]
        assert c["verdict"] == PITFALLS_DIFFER.get(at, sse), c
        sent = dict(map(tuple, c["wire"]["headers"]))
        if c["variant"] == "sse-keep-alive":
            assert sent["connection"] == "keep-alive"  # the app sent it, every time
        else:
            assert int(sent["content-length"]) == c["wire"]["sent_bytes"]  # exact
