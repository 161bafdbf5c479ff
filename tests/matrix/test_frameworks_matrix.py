"""The frameworks beside Starlette (``servers.frameworks``) under every server that runs
them (``--server all``), every client, direct and split, run for real and pinned cell by
cell to ``compat-frameworks-baseline.json`` (three runs, the same verdicts); and what
those verdicts say, against raw's (the same text/plain stream from Starlette under uvicorn,
pinned in ``compat-baseline.json``; as under every other server, ``compat-servers-baseline.json``):

- Django's StreamingHttpResponse over a sync iterator under every ASGI server, and over an
  async one under WSGI, is consumed whole before its first byte goes out: BUFFERED for every
  byte client that raw passes (django PR#19835; Django's docs). The right kind of iterator
  for the interface streams as raw does.
- Flask's streamed response, bare or with ``stream_with_context``, streams as raw does
  under gunicorn's sync worker and under its gevent worker: gunicorn#2936's buffering is not
  seen with a generator that waits on its LLM's socket (gevent's loop runs meanwhile).
"""

from __future__ import annotations

from typing import Any

import pytest

from streamcompat.harness.front.availability import servers_unavailable
from streamcompat.harness.kernel.model import Cell
from streamcompat.harness.kernel.servers import SERVERS
from tests.support.pinned import by_key, check_pinned, pins, run_pinned

pytestmark = pytest.mark.matrix  # a real run of a whole matrix: not a fast test

FILE = "compat-frameworks-baseline.json"
BASELINE = pins(FILE)
RAW = pins("compat-baseline.json")
MISSING = servers_unavailable(list(SERVERS))
ASGI = [name for name, record in SERVERS.items() if record.interface == "asgi"]
WSGI = [name for name, record in SERVERS.items() if record.interface == "wsgi"]
NETWORKS = ("direct", "split")


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    cells = run_pinned(
        tmp_path_factory, FILE, "--server", "all",
        "--variants", "streamcompat.servers.frameworks:VARIANTS", "--network", "direct,split",
    )  # fmt: skip
    return by_key(cells)


@pytest.mark.parametrize("key", sorted(BASELINE))
def test_framework_cell_matches_baseline(found: dict[str, Any], key: str) -> None:
    check_pinned(found, key, BASELINE, MISSING)


def _row(variant: str, server: str, network: str) -> dict[str, str]:
    """A pinned row's verdicts by client."""
    row = Cell(variant, "-", network, server=server).row
    return {
        cell.client: verdict
        for key, verdict in BASELINE.items()
        if (cell := Cell.from_key(key)).row == row and cell.network == network
    }


def _raw(network: str) -> dict[str, str]:
    return {
        cell.client: verdict
        for key, verdict in RAW.items()
        if (cell := Cell.from_key(key)).row == "raw" and cell.network == network
    }


def _byte_clients(network: str) -> list[str]:
    """The clients raw passes: they show a text/plain stream as it comes."""
    return [client for client, verdict in _raw(network).items() if verdict == "PASS"]


@pytest.mark.parametrize("network", NETWORKS)
@pytest.mark.parametrize(
    ("variant", "servers"), [("django-sync", ASGI), ("django-async", ["gunicorn"])]
)
def test_an_iterator_of_the_wrong_kind_is_held_back_from_every_byte_client(
    variant: str, servers: list[str], network: str
) -> None:
    assert len(_byte_clients(network)) >= 8
    for server in servers:
        row = _row(variant, server, network)
        assert row, f"{variant}@{server} on {network}: no cell pinned"
        held = {c: row.get(c) for c in _byte_clients(network)}
        assert set(held.values()) == {"BUFFERED"}, (variant, server, network, held)


@pytest.mark.parametrize("network", NETWORKS)
@pytest.mark.parametrize(
    ("variant", "servers"),
    [
        ("django-async", ASGI),
        ("django-sync", WSGI),
        ("flask", WSGI),
        ("flask-stream-with-context", WSGI),
    ],
)
def test_the_right_kind_of_stream_gets_what_raw_gets(
    variant: str, servers: list[str], network: str
) -> None:
    raw = _raw(network)
    for server in servers:
        row = _row(variant, server, network)
        assert row, f"{variant}@{server} on {network}: no cell pinned"
        differs = {c: (raw.get(c), v) for c, v in row.items() if raw.get(c) != v}
        assert not differs, (variant, server, network, differs)


def test_django_async_is_no_cell_under_the_gevent_worker() -> None:
    rows = {Cell.from_key(k).row for k in BASELINE}
    assert "django-async@gunicorn-gevent" not in rows
    assert {"django-sync@gunicorn-gevent", "flask@gunicorn-gevent"} <= rows
