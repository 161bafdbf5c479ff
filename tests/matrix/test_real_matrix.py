"""The built-in matrix behind the real proxies (``--network real``), run for real, pinned
cell by cell to ``compat-real-baseline.json``; a proxy this machine lacks is skipped
(``nox -s tests`` and CI install them: ``streamcompat setup proxies``).
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from streamcompat.harness.hosts.proxies import PROXIES
from streamcompat.harness.kernel.model import Cell
from streamcompat.harness.kernel.networks import NETWORK_GROUPS, network
from tests.support import CLI, ROOT

pytestmark = pytest.mark.matrix  # a real run of the whole matrix: not a fast test

BASELINE = json.loads((ROOT / "compat-real-baseline.json").read_text(encoding="utf-8"))["cells"]
HERE = [n for n in NETWORK_GROUPS["real"] if PROXIES[str(network(n).proxy)].binary()]
#: The clients pinned behind the real proxies: those of #16. The front ends' browser
#: clients of #17 (XHR, axios, fetch-event-source) are pinned on direct and split only; the
#: real run leaves them out, so it costs what it did.
PINNED_CLIENTS = sorted({Cell.from_key(k).client for k in BASELINE})
#: The variants it pins: the SDKs' own streams of #17 (ai-ui, langserve) are pinned on
#: direct and split only, like their clients.
PINNED_VARIANTS = sorted({Cell.from_key(k).variant for k in BASELINE})


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not HERE:
        pytest.skip("no real proxy installed (streamcompat setup proxies)")
    results = tmp_path_factory.mktemp("results")
    run = subprocess.run(
        [*CLI, "run", "--quiet", "--results", str(results), "--network", ",".join(HERE),
         "--clients", ",".join(PINNED_CLIENTS), "--variant", ",".join(PINNED_VARIANTS),
         "--baseline", "compat-real-baseline.json"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    # 0: every cell as pinned; 1: some cell changed (its own test says which).
    assert run.returncode in (0, 1), run.stdout + run.stderr
    data: dict[str, Any] = json.loads((results / "index.json").read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("key", sorted(BASELINE))
def test_real_network_cell_matches_baseline(index: dict[str, Any], key: str) -> None:
    wanted = Cell.from_key(key)
    if wanted.network not in HERE:
        pytest.skip(f"{wanted.network} not installed")
    found = [c for c in index["cells"] if Cell(c["variant"], c["client"], c["network"]) == wanted]
    assert found, f"{key} was not run"
    c = found[0]
    assert c["verdict"] == BASELINE[key], f"{key}: {BASELINE[key]} → {c['verdict']}: {c['detail']}"


def test_the_baseline_pins_every_builtin_cell_of_its_clients_on_every_real_network() -> None:
    from streamcompat.clients import CLIENTS
    from streamcompat.servers.variants import VARIANTS

    networks = {Cell.from_key(k).network for k in BASELINE}
    assert networks == set(NETWORK_GROUPS["real"])
    assert set(PINNED_CLIENTS) <= {c.name for c in CLIENTS}
    assert len(PINNED_CLIENTS) >= 15  # every client there was when it was pinned
    assert set(PINNED_VARIANTS) <= {v.name for v in VARIANTS}
    assert len(PINNED_VARIANTS) >= 17  # every variant there was when it was pinned
    assert len(BASELINE) == len(PINNED_VARIANTS) * len(PINNED_CLIENTS) * len(networks)


def test_nginx_holds_back_every_unframed_stream_and_passes_sse_starlette() -> None:
    """What users report of nginx's defaults (nginx/nginx#1505), as pinned."""
    byte_clients = ("requests", "aiohttp", "httpx", "browser-fetch", "node-fetch", "axios", "curl")
    assert {BASELINE[f"raw × {c} × nginx"] for c in byte_clients} == {"BUFFERED"}
    parsers = ("browser-eventsource", "httpx-sse", "requests-sseclient", "browser-fetch-sse",
               "node-eventsource")  # fmt: skip
    assert {BASELINE[f"sse-starlette × {c} × nginx"] for c in parsers} == {"PASS"}


@pytest.mark.parametrize("name", ["caddy", "caddy-encode", "haproxy", "apache", "apache-deflate"])
def test_proxies_that_forward_as_they_read_are_pinned_as_direct(name: str) -> None:
    """Caddy, HAProxy (slower by ~200 ms a token: PASS still) and Apache with their
    defaults change no verdict of the default baseline's `direct` cells."""
    direct = json.loads((ROOT / "compat-baseline.json").read_text(encoding="utf-8"))["cells"]
    behind = {
        k.rsplit(" × ", 1)[0]: v for k, v in BASELINE.items() if Cell.from_key(k).network == name
    }
    assert behind
    # The same cells on direct (the default baseline pins more: later clients and variants).
    assert behind == {cell: direct[f"{cell} × direct"] for cell in behind}
