"""The browser clients in other engines: the same driver and page script, a column each.

A browser client is written once (its driver and its JS) and runs in Chromium as
``browser-*``; ``in_engine`` makes its twin in another engine, named for it
(``firefox-fetch``), run by name or by the engine's name (``--clients firefox``), not
in the default run. The harness gives each cell its engine's browser
(``Resources.for_client``).
"""

from __future__ import annotations

from dataclasses import replace

from streamcompat.harness.hosts.firefox import FIREFOX_CONNECTIONS_PER_HOST
from streamcompat.harness.hosts.webkit import WEBKIT_CONNECTIONS_PER_HOST
from streamcompat.harness.kernel.model import Client

#: Each engine's name in words (descriptions, docs) and its limit of HTTP/1.1
#: connections per origin.
ENGINES = {
    "firefox": ("Firefox", FIREFOX_CONNECTIONS_PER_HOST),
    "webkit": ("WebKit", WEBKIT_CONNECTIONS_PER_HOST),
}


def in_engine(client: Client, engine: str) -> Client:
    """``client`` (a Chromium ``browser-*`` client) in ``engine``: its own column."""
    words, connections = ENGINES[engine]
    return replace(
        client,
        name=client.name.replace("browser-", f"{engine}-", 1),
        description=client.description.replace("Chromium", words),
        engine=engine,
        connections_per_origin=connections,
        by_default=False,  # opt-in: another browser per run (see docs/engines.md)
    )
