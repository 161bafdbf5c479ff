"""Real reverse proxies on the path: the distribution's own binaries, started per run.

Each kind (``PROXIES``) knows its program, the Debian package that has it, the
configuration a user first writes for it (defaults otherwise), how to wrap a user's own
file around the run's paths, and how to pick its complaint out of what it prints when it
refuses a config. ``running`` starts one in front of an upstream port on loopback, in its
own temp dir and process group, waits until it listens, checks that it listens on
loopback only, and ends it (workers too) on the way out, however the run ends.

A user's file may hold two placeholders, replaced before the proxy reads it:
``@LISTEN@`` (``127.0.0.1:PORT``, where the proxy listens) and ``@UPSTREAM@``
(``127.0.0.1:PORT``, the variant server or the app). Line numbers stay the file's own.
On a TLS network two more: ``@CERT@`` and ``@KEY@``, the run's certificate chain and
key (``hosts.tls``), for the user's ``ssl_certificate``/``tls`` lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from streamcompat.harness.hosts.processes import end, exited, listening, log_summary, spawn
from streamcompat.harness.hosts.tls import Authority

__all__ = [
    "CERT",
    "KEY",
    "LISTEN",
    "PROXIES",
    "UPSTREAM",
    "ProxyError",
    "ProxyKind",
    "listening",
    "running",
]

LISTEN = "@LISTEN@"
UPSTREAM = "@UPSTREAM@"
CERT = "@CERT@"  # TLS networks: the run's certificate chain (PEM) ...
KEY = "@KEY@"  # ... and its key
#: The content types LLM streams go out as, which a compressing proxy is told to compress.
STREAM_TYPES = "text/plain text/event-stream application/x-ndjson application/json"
#: What the proxies say when their port was taken (a proxy binds its own: none takes a
#: listening fd), and how often a new free port is tried then.
PORT_TAKEN = re.compile(r"address already in use|cannot bind socket|could not bind", re.I)
CONNECT_BOUND_S = 1.0  # one attempt to connect while it starts (a full backlog never answers)
PORT_ATTEMPTS = 3
READY_BOUND_S = 15.0  # a proxy must accept connections within this, or it is reported
POLL_S = 0.02  # between connection attempts while it starts (waiting on its exit meanwhile)


class ProxyError(Exception):
    """A proxy would not start on its config, or listened beyond loopback: one line."""


@dataclass(frozen=True)
class Paths:
    """Where a proxy of one run lives: its temp dir, and the config files in it."""

    run: Path
    main: Path  # the file the proxy is started on
    user: Path | None  # the copy of a user's file (placeholders replaced), if any
    added: tuple[int, int] = (0, 0)  # lines the copy has that the file has not: after, how many

    def line_of(self, copy_line: int) -> int:
        """The user's line number of the copy's ``copy_line``."""
        after, count = self.added
        return copy_line - count if copy_line > after + count else min(copy_line, after)


@dataclass(frozen=True)
class ProxyKind:
    name: str
    program: str  # looked up on PATH and in /usr/sbin
    package: str  # Debian's package that has it
    #: The config a user first writes, with the placeholders: what runs without a file.
    first_config: str
    #: The main config around the user's file (or the first config) for the run's paths
    #: (``None``: the user's file is the main config).
    wrap: Callable[[Paths], str] | None
    #: The command line that starts the binary on the run's main config, in the foreground.
    command: Callable[[str, Paths], list[str]]
    #: The lines that hold the proxy's complaint in what it printed when it would not start.
    complaint: re.Pattern[str]
    env: Callable[[Paths], dict[str, str]] = lambda paths: {}
    #: What is done to the config's text before the proxy reads it (beyond the
    #: placeholders): the text, the line after which lines were added, and how many.
    adapt: Callable[[str], tuple[str, int, int]] = lambda text: (text, 0, 0)
    complaint_lines: int = 1  # how many of the complaint's lines say what and where
    #: Other first configs, by name (``Network.preset``): the same proxy as users also
    #: set it up, e.g. compressing what it forwards.
    presets: Mapping[str, str] = field(default_factory=dict)
    #: What holds bytes back in it by default and how users turn that off, for the detail
    #: of a cell held back on it ("" where nothing is known to).
    holds_back: str = ""
    #: What delays each write in it by default and how users turn that off ("": nothing known).
    delays: str = ""
    #: The placeholders a user's file must hold (the rest the main config has).
    required: tuple[str, ...] = (LISTEN, UPSTREAM)
    user_name: str = "site.conf"  # the copy's name in the run dir

    def binary(self) -> str | None:
        return shutil.which(self.program) or shutil.which(self.program, path="/usr/sbin:/sbin")


def _nginx_main(paths: Paths) -> str:
    run = paths.run
    temps = "".join(
        f"    {kind}_temp_path {run / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"worker_processes 1;\npid {run / 'nginx.pid'};\nerror_log {run / 'error.log'};\n"
        "events { worker_connections 512; }\n"
        f"http {{\n    access_log off;\n{temps}    include {paths.user};\n}}\n"
    )


def _apache_main(paths: Paths) -> str:
    run = paths.run
    modules = ("mpm_event", "authz_core", "proxy", "proxy_http", "headers", "deflate", "filter")
    loads = "".join(f"LoadModule {m}_module modules/mod_{m}.so\n" for m in modules)
    return (
        "ServerRoot /usr/lib/apache2\nServerName 127.0.0.1\n"
        f"PidFile {run / 'apache2.pid'}\nErrorLog {run / 'error.log'}\n"
        f"DefaultRuntimeDir {run}\nMutex file:{run} default\n{loads}"
        f"Listen {LISTEN}\nInclude {paths.user}\n"
    )


def _nginx_command(binary: str, paths: Paths) -> list[str]:
    error_log = str(paths.run / "error.log")  # before the config is read, too
    return [
        binary,
        "-p",
        str(paths.run),
        "-e",
        error_log,
        "-c",
        str(paths.main),
        "-g",
        "daemon off;",
    ]


def _caddy_command(binary: str, paths: Paths) -> list[str]:
    return [binary, "run", "--config", str(paths.main), "--adapter", "caddyfile"]


def _caddy_admin_off(text: str) -> tuple[str, int, int]:
    """No admin endpoint: ``admin off`` in the file's global options block (one made if it
    has none). Returns the text, the line after which lines were added, and how many."""
    lines = text.splitlines(keepends=True)
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].strip() == "{":
        return "".join([*lines[: first + 1], "\tadmin off\n", *lines[first + 1 :]]), first + 1, 1
    return "{\n\tadmin off\n}\n" + text, 0, 3


def _xdg(paths: Paths) -> dict[str, str]:
    """Caddy keeps its data and autosaved config under these: the run's dir, not $HOME."""
    return {
        "HOME": str(paths.run),
        "XDG_DATA_HOME": str(paths.run / "data"),
        "XDG_CONFIG_HOME": str(paths.run / "config"),
    }


#: The real proxies, by kind. Their first configs are each one's documented minimum.
PROXIES: dict[str, ProxyKind] = {
    k.name: k
    for k in (
        ProxyKind(
            "nginx",
            program="nginx",
            package="nginx",
            first_config=f"server {{\n    listen {LISTEN};\n    location / {{\n"
            f"        proxy_pass http://{UPSTREAM};\n    }}\n}}\n",
            wrap=_nginx_main,
            presets={
                "gzip": f"server {{\n    listen {LISTEN};\n    gzip on;\n"
                f"    gzip_types {STREAM_TYPES};\n    location / {{\n"
                f"        proxy_pass http://{UPSTREAM};\n    }}\n}}\n",
                # nginx 1.22's form (1.25 moved it to its own `http2 on;`).
                "h2": f"server {{\n    listen {LISTEN} ssl http2;\n"
                f"    ssl_certificate {CERT};\n    ssl_certificate_key {KEY};\n"
                f"    location / {{\n        proxy_pass http://{UPSTREAM};\n    }}\n}}\n",
            },
            holds_back="nginx buffers proxied responses by default; send `X-Accel-Buffering: "
            "no` from the app, or set `proxy_buffering off;` in the location",
            command=_nginx_command,
            complaint=re.compile(r"\[emerg\].*"),
        ),
        ProxyKind(
            "caddy",
            program="caddy",
            package="caddy",
            first_config=f"http://{LISTEN} {{\n    bind 127.0.0.1\n"
            f"    reverse_proxy {UPSTREAM}\n}}\n",
            wrap=None,
            command=_caddy_command,
            presets={
                "encode": f"http://{LISTEN} {{\n    bind 127.0.0.1\n    encode gzip\n"
                f"    reverse_proxy {UPSTREAM}\n}}\n",
                # No automatic HTTPS (its redirect server would bind :80 on every address)
                # and no HTTP/3 (UDP): TLS with the run's certificate, h1 and h2 by ALPN.
                "h2": "{\n    auto_https off\n    servers {\n        protocols h1 h2\n    }\n}\n"
                f"https://{LISTEN} {{\n    bind 127.0.0.1\n    tls {CERT} {KEY}\n"
                f"    reverse_proxy {UPSTREAM}\n}}\n",
            },
            complaint=re.compile(r"Error: .*"),
            env=_xdg,
            holds_back="Caddy's `encode` holds compressed streams back; set `flush_interval -1` "
            "in `reverse_proxy`",
            adapt=_caddy_admin_off,
            user_name="Caddyfile",
        ),
        ProxyKind(
            "haproxy",
            program="haproxy",
            package="haproxy",
            first_config="defaults\n    mode http\n    timeout connect 5s\n"
            "    timeout client 50s\n    timeout server 50s\n\n"
            f"frontend web\n    bind {LISTEN}\n    default_backend app\n\n"
            f"backend app\n    server app {UPSTREAM}\n",
            wrap=None,
            command=lambda binary, p: [binary, "-db", "-f", str(p.main)],
            delays="HAProxy sends each write it expects more of with MSG_MORE, which the kernel "
            "holds for its retransmission timer (200 ms or more); add `option http-no-delay`",
            complaint=re.compile(r"\[ALERT\].*"),
            user_name="haproxy.cfg",
        ),
        ProxyKind(
            "apache",
            program="apache2",
            package="apache2-bin",
            first_config=f"ProxyPass / http://{UPSTREAM}/\n",
            wrap=_apache_main,
            presets={
                "deflate": f"ProxyPass / http://{UPSTREAM}/\n"
                f"AddOutputFilterByType DEFLATE {STREAM_TYPES}\n",
            },
            command=lambda binary, p: [binary, "-f", str(p.main), "-DFOREGROUND"],
            holds_back="mod_proxy_http keeps bytes in its output buffer; add `flushpackets=on` "
            "to `ProxyPass`",
            complaint=re.compile(r"AH\d+:.*|Invalid command.*|.*line \d+ of .*"),
            complaint_lines=2,
            required=(UPSTREAM,),  # the main config has ``Listen``
        ),
    )
}


def _ephemeral_port() -> int:
    """A free loopback port for a proxy that binds its own (none takes a listening fd)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def read_user_config(kind: ProxyKind, user_file: Path) -> str:
    """A user's file, refused (ProxyError, one line) if it cannot say where the proxy
    listens and where the app is: both are the run's, on loopback."""
    try:
        text = user_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProxyError(f"{user_file}: cannot be read ({exc})") from None
    missing = [p for p in kind.required if p not in text]
    if missing:
        what = {
            LISTEN: f"where the proxy listens ({LISTEN})",
            UPSTREAM: f"where the app is ({UPSTREAM})",
        }
        raise ProxyError(
            f"{user_file}: no {' and no '.join(missing)}; a {kind.name} config for streamcompat "
            f"says {' and '.join(what[m] for m in missing)}: the run puts it on loopback"
        )
    return text


def _prepare(
    kind: ProxyKind,
    run: Path,
    user_file: Path | None,
    preset: str,
    port: int,
    up: int,
    tls: Authority | None = None,
) -> Paths:
    if user_file:
        text = read_user_config(kind, user_file)
    else:
        text = kind.presets[preset] if preset else kind.first_config
    text, after, count = kind.adapt(text)
    fill = {LISTEN: f"127.0.0.1:{port}", UPSTREAM: f"127.0.0.1:{up}"}
    if tls is not None:
        fill.update({CERT: str(tls.cert), KEY: str(tls.key)})
    for placeholder, value in fill.items():
        text = text.replace(placeholder, value)
    user = run / kind.user_name
    user.write_text(text, encoding="utf-8")
    paths = Paths(run, user if kind.wrap is None else run / "main.conf", user, (after, count))
    if kind.wrap is not None:
        main = kind.wrap(paths)
        for placeholder, value in fill.items():
            main = main.replace(placeholder, value)
        paths.main.write_text(main, encoding="utf-8")
    return paths


def _complaint(kind: ProxyKind, text: str, paths: Paths, user_file: Path | None) -> str:
    """The proxy's own words, one line, naming the user's file where it names the copy."""
    lines = list(dict.fromkeys(m.group(0).strip() for m in kind.complaint.finditer(text)))
    said = " ".join(lines[: kind.complaint_lines])[:600] if lines else log_summary(text, lines=2)
    if user_file is not None and paths.user is not None:
        copy = re.escape(str(paths.user))
        said = re.sub(
            rf"{copy}([:, line ]+)(\d+)|{copy}",
            lambda m: (
                f"{user_file}{m.group(1)}{paths.line_of(int(m.group(2)))}"
                if m.group(2)
                else str(user_file)
            ),
            said,
        )
    return said or "no message"


@contextlib.asynccontextmanager
async def running(
    kind: ProxyKind,
    upstream_port: int,
    user_file: Path | None = None,
    preset: str = "",
    tls: Authority | None = None,
) -> AsyncIterator[str]:
    """``kind`` listening on loopback in front of ``upstream_port``, on the user's file, or
    its preset, or its first config; yields its origin. With ``tls``, the config's
    ``@CERT@`` and ``@KEY@`` are the run's, and the origin is ``https://``."""
    binary = kind.binary()
    if binary is None:
        raise ProxyError(f"{kind.program} not installed (apt-get install {kind.package})")
    run = Path(tempfile.mkdtemp(prefix=f"streamcompat-{kind.name}-"))
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        run.chmod(0o711)  # workers that drop root (nginx's, Apache's) reach their temp dirs
    process = None
    try:
        for attempt in range(1, PORT_ATTEMPTS + 1):
            port = _ephemeral_port()
            paths = _prepare(kind, run, user_file, preset, port, upstream_port, tls)
            log_path = run / "proxy.log"
            with log_path.open("wb") as log:
                env = {**os.environ, **kind.env(paths)}
                process = spawn(kind.command(binary, paths), listener=None, env=env, log=log)
            try:
                await _ready(kind, process, port, log_path, paths, user_file)
                break
            except ProxyError as exc:
                # The free port was taken before the proxy bound it: another, a few times.
                if attempt == PORT_ATTEMPTS or not PORT_TAKEN.search(str(exc)):
                    raise
                await end(process)
        assert process is not None  # the loop ran, and broke out with one that is ready
        _only_loopback(kind, process, user_file)
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        await end(process)
        shutil.rmtree(run, ignore_errors=True)


async def _ready(
    kind: ProxyKind,
    process: subprocess.Popen[bytes],
    port: int,
    log_path: Path,
    paths: Paths,
    user_file: Path | None,
) -> None:
    """Until the proxy accepts a connection on ``port``; ProxyError if it exits first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_BOUND_S
    polls = 0
    while loop.time() < deadline:
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port), CONNECT_BOUND_S
            )
        except (OSError, asyncio.TimeoutError):
            if await exited(process, POLL_S):
                text = log_path.read_text(encoding="utf-8", errors="replace")
                for extra in (paths.run / "error.log",):
                    with contextlib.suppress(OSError):
                        text += "\n" + extra.read_text(encoding="utf-8", errors="replace")
                said = _complaint(kind, text, paths, user_file)
                where = f"{user_file}: " if user_file and str(user_file) not in said else ""
                raise ProxyError(f"{kind.name} would not start: {where}{said}") from None
            polls += 1
            if polls % 5 == 0:  # beyond 127.0.0.1 is refused at once, not at the bound
                _only_loopback(kind, process, user_file)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        if ("127.0.0.1", port) in listening(process.pid) or not Path("/proc/net/tcp").exists():
            return
        # Something else answers on the port (it was taken before the proxy bound it):
        # the proxy is about to say so and exit.
        await exited(process, POLL_S)
    found = ", ".join(f"{a}:{p}" for a, p in listening(process.pid)) or "nothing"
    raise ProxyError(
        f"{kind.name}: {user_file or 'its config'} did not listen on {LISTEN} "
        f"(127.0.0.1:{port}) within {READY_BOUND_S:.0f} s; it listens on {found}"
    )


def _only_loopback(
    kind: ProxyKind, process: subprocess.Popen[bytes], user_file: Path | None
) -> None:
    """ProxyError if the proxy's processes listen anywhere but 127.0.0.1."""
    beyond = [a for a in listening(process.pid) if a[0] != "127.0.0.1"]
    if beyond:
        address, where = beyond[0]
        raise ProxyError(
            f"{user_file or kind.name}: listens on {address}:{where}; streamcompat runs "
            "proxies on 127.0.0.1 only (listen on @LISTEN@)"
        )
