"""Run the variant server on a listening socket the harness bound (127.0.0.1 only).

    python -m streamcompat.servers --fd 3 --control-fd 4 --variants builtin \
        [--tokens-file tokens.json] [--tls-fd 5 --tls-cert cert.pem --tls-key key.pem]

``--control-fd`` is this process's end of the harness's control channel (a socket
pair; see ``servers.control``); the server ends when the harness closes it. With
``--tls-fd``, the same app is served over TLS on a second listening socket too, with
the run's certificate (the ``direct-tls`` network). The run's
secret comes from the STREAMCOMPAT_SECRET environment variable, so that it does not
show in the process list.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
from typing import Any

import uvicorn

from streamcompat.harness.hosts.processes import run_child_loop
from streamcompat.harness.kernel.tokens import DEFAULT_TOKENS
from streamcompat.servers.app import create_app
from streamcompat.servers.control import Streams, serve_control
from streamcompat.servers.plugins import PluginError, load_variants


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streamcompat.servers")
    parser.add_argument("--fd", type=int, required=True, help="listening socket to serve on")
    parser.add_argument("--control-fd", type=int, required=True, help="the harness's channel")
    parser.add_argument("--variants", action="append", default=[], help="builtin or module:attr")
    parser.add_argument("--tokens-file", help="JSON list of tokens (default: the built-in script)")
    parser.add_argument("--tls-fd", type=int, help="a second listening socket, served over TLS")
    parser.add_argument("--tls-cert", help="the certificate chain (PEM) TLS presents")
    parser.add_argument("--tls-key", help="its private key (PEM)")
    args = parser.parse_args(argv)
    secret = os.environ.get("STREAMCOMPAT_SECRET", "")
    if len(secret) < 16:
        print("streamcompat server: STREAMCOMPAT_SECRET must be set", file=sys.stderr)
        return 2
    try:
        variants = load_variants(args.variants or ["builtin"])
    except PluginError as exc:
        print(f"streamcompat server: {exc}", file=sys.stderr)
        return 2
    tokens = DEFAULT_TOKENS
    if args.tokens_file:
        with open(args.tokens_file, encoding="utf-8") as f:
            tokens = tuple(json.load(f))
    streams = Streams()
    app = streams.observe(create_app(variants, tokens, streams))
    # socket(fileno=) reads the real family (AF_INET); uvicorn's own --fd assumes AF_UNIX,
    # so asyncio would skip TCP_NODELAY and Nagle would add ~40 ms to every small write.
    listener = socket.socket(fileno=args.fd)
    options: dict[str, Any] = dict(
        interface="asgi3",
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
        # Longer than a proxy keeps an idle upstream connection in its pool (Caddy: 2 min),
        # as servers behind one are set up: uvicorn's 5 s would close connections a proxy
        # is about to reuse, a race of the server's making, not the path's.
        timeout_keep_alive=150,
    )
    servers = [(uvicorn.Server(uvicorn.Config(app, **options)), listener)]
    if args.tls_fd is not None:  # uvicorn's own TLS (HTTP/1.1), as `--ssl-certfile` serves
        tls = uvicorn.Config(app, ssl_certfile=args.tls_cert, ssl_keyfile=args.tls_key, **options)
        servers.append((uvicorn.Server(tls), socket.socket(fileno=args.tls_fd)))

    def harness_gone() -> None:
        for server, _ in servers:
            server.should_exit = True

    async def serve() -> None:
        control = asyncio.ensure_future(
            serve_control(args.control_fd, secret, streams, on_close=harness_gone)
        )
        try:
            await asyncio.gather(*(server.serve(sockets=[sock]) for server, sock in servers))
        finally:
            control.cancel()

    run_child_loop(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
