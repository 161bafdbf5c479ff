"""Run the variant server on a listening socket the harness bound (127.0.0.1 only).

    python -m servers --fd 3 --variants builtin [--tokens-file tokens.json]

The run's secret comes from the STREAMCOMPAT_SECRET environment variable, so that it
does not show in the process list.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys

import uvicorn

from harness.plugins import PluginError, load_variants
from harness.tokens import DEFAULT_TOKENS
from servers.app import create_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m servers")
    parser.add_argument("--fd", type=int, required=True, help="listening socket to serve on")
    parser.add_argument("--variants", action="append", default=[], help="builtin or module:attr")
    parser.add_argument("--tokens-file", help="JSON list of tokens (default: the built-in script)")
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
    app = create_app(variants, tokens, secret)
    # socket(fileno=) reads the real family (AF_INET); uvicorn's own --fd assumes AF_UNIX,
    # so asyncio would skip TCP_NODELAY and Nagle would add ~40 ms to every small write.
    listener = socket.socket(fileno=args.fd)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2
    )
    uvicorn.Server(config).run(sockets=[listener])
    return 0


if __name__ == "__main__":
    sys.exit(main())
