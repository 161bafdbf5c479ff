"""The abort and error scenarios for the frameworks beside Starlette
(``servers.frameworks``) under every server that runs them, pinned to
``compat-frameworks-scenarios-baseline.json`` with the byte clients and curl.

Under ASGI every server stops the run of a Django view whose client left while the
response waited (django-sync is BUFFERED first: its client never reaches the token it
leaves after). Under WSGI (gunicorn, sync and gevent) nothing notices a client leaving
while the response waits; the run, let go on as the relay's response asks, is cancelled
when the response next writes (STOPPED a token or two later): none LEAKs. A failed chain
is told everywhere but under daphne, which leaves the response open (TIMEOUT); Node's
fetch takes gunicorn's sync worker's cut-off chunked body for a whole one
(``Connection: close``; nodejs/undici#5273, fixed after Node 20's undici), TRUNCATED."""

from __future__ import annotations

from typing import Any

import pytest

from streamcompat.harness.front.availability import servers_unavailable
from streamcompat.harness.kernel.model import Cell
from streamcompat.harness.kernel.servers import SERVERS
from tests.support.pinned import by_key, check_pinned, pins, run_pinned

pytestmark = pytest.mark.matrix  # a real run of a whole matrix: not a fast test

FILE = "compat-frameworks-scenarios-baseline.json"
BASELINE = pins(FILE)
MISSING = servers_unavailable(list(SERVERS))
WSGI = {name for name, record in SERVERS.items() if record.interface == "wsgi"}


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    clients = sorted({Cell.from_key(key).client for key in BASELINE})
    cells = run_pinned(
        tmp_path_factory, FILE, "--server", "all",
        "--variants", "streamcompat.servers.frameworks:VARIANTS", "--network", "direct",
        "--scenario", "abort,error", "--clients", ",".join(clients),
    )  # fmt: skip
    return by_key(cells)


@pytest.mark.parametrize("key", sorted(BASELINE))
def test_framework_scenario_cell_matches_baseline(found: dict[str, Any], key: str) -> None:
    check_pinned(found, key, BASELINE, MISSING)


def test_under_wsgi_a_left_run_stops_when_the_response_next_writes(
    found: dict[str, Any],
) -> None:
    """Not noticed while the response waits, every WSGI row's run is cancelled once its
    response writes to the gone client, a token or two later: the relay's response paces
    it (``servers.peers``), not the upstream's TCP buffer."""
    wsgi_abort = [
        cell for key, cell in found.items()
        if Cell.from_key(key).server in WSGI and key.endswith("× abort")
        and BASELINE.get(key) == "STOPPED"
    ]  # fmt: skip
    if not wsgi_abort:
        pytest.skip("no WSGI server here")
    for cell in wsgi_abort:
        assert "did not notice while its response waited" in cell["detail"], cell["detail"]
        assert "(when the response next wrote)" in cell["detail"], cell["detail"]


def test_the_pins_say_which_rows_stop_and_none_leaks() -> None:
    abort = {k: v for k, v in BASELINE.items() if k.endswith("× abort")}
    assert "LEAK" not in abort.values()
    rows = {Cell.from_key(k).row for k, v in abort.items() if v == "STOPPED"}
    assert {"django-async", "django-sync@gunicorn", "flask@gunicorn-gevent"} <= rows
    buffered = {Cell.from_key(k).row for k, v in abort.items() if v == "BUFFERED"}
    assert {"django-sync", "django-async@gunicorn"} <= buffered  # never reach token k
    daphne = {v for k, v in BASELINE.items() if k.endswith("× error") and "@daphne" in k}
    assert daphne == {"TIMEOUT"}
