"""Real proxies on the path: each kind starts on its first config in front of a real
upstream, streams through, listens on loopback only, and is gone with its workers once
its context ends; a user's config is what runs, and one the proxy refuses is told in one
line naming the user's file and line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from streamcompat.harness.hosts import proxies
from streamcompat.harness.hosts.proxies import PROXIES, ProxyError, listening, running
from tests.support import CLI, ROOT
from tests.support.procs import group_members, stat_fields

KINDS = [
    pytest.param(
        name,
        marks=pytest.mark.skipif(
            kind.binary() is None, reason=f"{kind.program} not installed ({kind.package})"
        ),
    )
    for name, kind in PROXIES.items()
]
PIECES = [b"Hello", b" w\xc3\xb6rld", b"\n", b"!"]


class Upstream:
    """A chunked text/plain stream, a piece released only when the test says so: what the
    proxy forwards before the next release is what it did not hold back."""

    def __init__(self) -> None:
        self.release = asyncio.Queue[bytes | None]()
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        while (piece := await self.release.get()) is not None:
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        writer.close()


@contextlib.asynccontextmanager
async def upstream() -> AsyncIterator[Upstream]:
    up = Upstream()
    server = await asyncio.start_server(up.handle, "127.0.0.1", 0)
    up.port = server.sockets[0].getsockname()[1]
    async with server:
        yield up


async def read_body_live(origin: str, up: Upstream) -> list[bytes]:
    """Each piece released, then read until it arrives (bounded): all of them arrive one
    by one through a proxy that forwards as it reads."""
    port = int(origin.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    await writer.drain()
    seen = b""
    got: list[bytes] = []
    for piece in PIECES:
        await up.release.put(piece)
        while piece not in seen:
            seen += await asyncio.wait_for(reader.read(65536), 10)
        got.append(piece)
    await up.release.put(None)
    writer.close()
    return got


@pytest.mark.parametrize("name", [k for k in KINDS if k.values[0] != "nginx"])
def test_a_proxy_that_forwards_as_it_reads_streams_each_piece(name: str) -> None:
    async def main() -> tuple[list[bytes], list[tuple[str, int]], int, list[int]]:
        async with upstream() as up, running(PROXIES[name], up.port) as origin:
            process_group = _group_of(origin)
            got = await read_body_live(origin, up)
            listens = listening(process_group)
            inside = group_members(process_group)
        return got, listens, process_group, inside

    got, listens, group, inside = asyncio.run(main())
    assert got == PIECES
    assert listens and {a for a, _ in listens} == {"127.0.0.1"}
    assert inside  # the proxy's processes were found while it ran ...
    assert _gone(group)  # ... and none is left, workers included


@pytest.mark.parametrize("name", KINDS)
def test_each_first_config_starts_on_loopback_and_leaves_nothing(name: str) -> None:
    async def main() -> tuple[int, list[tuple[str, int]]]:
        async with upstream() as up, running(PROXIES[name], up.port) as origin:
            group = _group_of(origin)
            return group, listening(group)

    group, listens = asyncio.run(main())
    assert listens and all(address == "127.0.0.1" for address, _ in listens)
    assert _gone(group)


def _group_of(origin: str) -> int:
    """The process group of the process listening on ``origin``'s port."""
    port = int(origin.rsplit(":", 1)[1])
    for pid, fields in stat_fields().items():
        group = int(fields[2])
        if group == pid and any(p == port for _, p in listening(group)):
            return group
    raise AssertionError(f"nothing listens on {port}")


def _gone(group: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and group_members(group):
        time.sleep(0.05)  # polling /proc, bounded: workers end after their master
    return not group_members(group)


BROKEN = {
    "nginx": ("site.conf", "server {\n    listen @LISTEN@;\n    proxy_bufering off;\n"
              "    location / { proxy_pass http://@UPSTREAM@; }\n}\n", 3, "proxy_bufering"),
    "caddy": ("Caddyfile", "{\n    debug\n}\nhttp://@LISTEN@ {\n    bind 127.0.0.1\n"
              "    reverse_proxyy @UPSTREAM@\n}\n", 6, "reverse_proxyy"),
    "haproxy": ("haproxy.cfg", "defaults\n    mode http\n    timeout clientt 5s\nfrontend f\n"
                "    bind @LISTEN@\n    default_backend b\nbackend b\n    server a @UPSTREAM@\n",
                3, "clientt"),
    "apache": ("apache.conf", "ProxyPas / http://@UPSTREAM@/\n", 1, "ProxyPas"),
}  # fmt: skip


@pytest.mark.parametrize("name", KINDS)
def test_a_config_the_proxy_refuses_is_one_line_naming_the_users_file_and_line(
    name: str, tmp_path: Path
) -> None:
    file_name, text, line, word = BROKEN[name]
    user = tmp_path / file_name
    user.write_text(text)

    async def main() -> str:
        async with upstream() as up:
            with pytest.raises(ProxyError) as refused:
                async with running(PROXIES[name], up.port, user):
                    raise AssertionError("it should not have started")
            return str(refused.value)

    said = asyncio.run(main())
    assert "\n" not in said and word in said
    assert (
        f"{user}:{line}" in said or f"line {line} of {user}" in said or f"[{user}:{line}]" in said
    )
    assert "streamcompat-" not in said  # the run's copy is never named


@pytest.mark.parametrize("name", KINDS)
def test_a_users_config_without_the_placeholders_is_refused_before_it_runs(
    name: str, tmp_path: Path
) -> None:
    user = tmp_path / "proxy.conf"
    user.write_text("# points at production, not at the app under test\n")
    with pytest.raises(ProxyError, match=r"no @UPSTREAM@") as refused:
        proxies.read_user_config(PROXIES[name], user)
    assert str(user) in str(refused.value)


@pytest.mark.skipif(PROXIES["nginx"].binary() is None, reason="nginx not installed")
def test_a_users_config_that_listens_beyond_127_0_0_1_is_ended(tmp_path: Path) -> None:
    # 127.0.0.2 is loopback too, so that the test itself listens nowhere else; any
    # address but 127.0.0.1 is refused alike.
    user = tmp_path / "wide.conf"
    port = proxies._ephemeral_port()
    user.write_text(
        f"server {{\n    listen @LISTEN@;\n    listen 127.0.0.2:{port};\n"
        "    location / { proxy_pass http://@UPSTREAM@; }\n}\n"
    )

    async def main() -> str:
        async with upstream() as up:
            with pytest.raises(ProxyError) as refused:
                async with running(PROXIES["nginx"], up.port, user):
                    raise AssertionError("a proxy listening beyond loopback must not be used")
            return str(refused.value)

    assert f"listens on 127.0.0.2:{port}" in asyncio.run(main())


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "run", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.skipif(PROXIES["nginx"].binary() is None, reason="nginx not installed")
def test_nginx_holds_raw_back_and_the_users_proxy_buffering_off_lets_it_stream(
    tmp_path: Path,
) -> None:
    user = tmp_path / "nginx.conf"
    user.write_text(
        "server {\n    listen @LISTEN@;\n    location / {\n        proxy_pass http://@UPSTREAM@;\n"
        "        proxy_buffering off;\n    }\n}\n"
    )
    network = f"nginx:{user}"
    run = _cli(
        "--variant", "raw", "--clients", "requests,curl", "--network", f"nginx,{network}",
        "--results", str(tmp_path / "r"), "--baseline", str(tmp_path / "none.json"),
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    cells = json.loads((tmp_path / "r" / "index.json").read_text())["cells"]
    verdicts = {(c["client"], c["network"]): c["verdict"] for c in cells}
    assert verdicts == {
        ("requests", "nginx"): "BUFFERED",
        ("curl", "nginx"): "BUFFERED",
        ("requests", network): "PASS",
        ("curl", network): "PASS",
    }


@pytest.mark.skipif(PROXIES["nginx"].binary() is None, reason="nginx not installed")
def test_a_broken_users_config_exits_2_with_one_line(tmp_path: Path) -> None:
    file_name, text, line, word = BROKEN["nginx"]
    user = tmp_path / file_name
    user.write_text(text)
    run = _cli("--variant", "raw", "--clients", "curl", "--network", f"nginx:{user}",
               "--results", str(tmp_path / "r"))  # fmt: skip
    assert run.returncode == 2, run.stdout + run.stderr
    said = [line for line in run.stderr.splitlines() if word in line]
    assert len(said) == 1 and f"{user}:{line}" in said[0], run.stderr
    assert "Traceback" not in run.stderr + run.stdout


def test_a_missing_users_config_is_a_usage_error(tmp_path: Path) -> None:
    run = _cli("--network", f"nginx:{tmp_path / 'nope.conf'}", timeout=60)
    assert run.returncode == 2
    assert "no such file" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize("name", KINDS)
def test_a_port_taken_before_the_proxy_binds_it_is_tried_again_on_another(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    busy, free = taken.getsockname()[1], proxies._ephemeral_port()
    ports = iter([busy, free])
    monkeypatch.setattr(proxies, "_ephemeral_port", lambda: next(ports))

    async def main() -> str:
        async with upstream() as up, running(PROXIES[name], up.port) as origin:
            return origin

    try:
        origin = asyncio.run(main())
    finally:
        taken.close()
    assert origin == f"http://127.0.0.1:{free}"
