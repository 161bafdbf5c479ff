"""The built-in matrix over TLS and HTTP/2 (``--network tls``: nginx-h2, caddy-h2) and,
beside it, behind the same nginx over plain HTTP/1.1, every client (those run only by
name too: httpx-h2, curl-h2), run for real and pinned cell by cell to
``compat-h2-baseline.json``; each cell says the HTTP version its client used."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from streamcompat.harness.hosts.proxies import PROXIES
from streamcompat.harness.kernel.model import Cell
from streamcompat.harness.kernel.networks import NETWORK_GROUPS, network
from tests.support import CLI, ROOT

pytestmark = pytest.mark.matrix  # a real run of a whole matrix: not a fast test

BASELINE = json.loads((ROOT / "compat-h2-baseline.json").read_text(encoding="utf-8"))["cells"]
NETWORKS = ("nginx", *NETWORK_GROUPS["tls"])
HERE = [n for n in NETWORKS if network(n).proxy is None or PROXIES[str(network(n).proxy)].binary()]
#: The clients that speak HTTP/2 where TLS offers it, and say so: every browser client
#: (its resource timing), httpx-h2 and curl (either way: over TLS it offers h2 itself).
SPEAK_H2 = ("browser-fetch", "browser-eventsource", "browser-fetch-sse", "browser-xhr",
            "browser-axios", "browser-axios-progress", "browser-axios-fetch",
            "browser-fetch-event-source", "httpx-h2", "curl", "curl-h2")  # fmt: skip


#: The variants it pins: the SDKs' own streams of #17 (ai-ui, langserve) are pinned on
#: direct and split only, like the SDK clients.
PINNED_VARIANTS = sorted({Cell.from_key(k).variant for k in BASELINE})


def every_client() -> list[str]:
    """Every client it pins, in the clients' order: every one there was when it was pinned
    (the SDK clients of #17, openai-node, ai-text, ai-ui and langserve, are not; the
    Firefox columns run over TLS in ``test_firefox_hosts.py``)."""
    from streamcompat.clients import CLIENTS

    pinned = {Cell.from_key(k).client for k in BASELINE}
    return [c.name for c in CLIENTS if c.name in pinned]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not HERE:
        pytest.skip("neither nginx nor caddy installed (streamcompat setup proxies)")
    results = tmp_path_factory.mktemp("results")
    run = subprocess.run(
        [*CLI, "run", "--quiet", "--results", str(results), "--network", ",".join(HERE),
         "--clients", ",".join(every_client()), "--variant", ",".join(PINNED_VARIANTS),
         "--baseline", "compat-h2-baseline.json"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    # 0: every cell as pinned; 1: some cell changed (its own test says which).
    assert run.returncode in (0, 1), run.stdout + run.stderr
    data: dict[str, Any] = json.loads((results / "index.json").read_text(encoding="utf-8"))
    return data


def _cell(index: dict[str, Any], key: str) -> dict[str, Any]:
    wanted = Cell.from_key(key)
    if wanted.network not in HERE:
        pytest.skip(f"{wanted.network} not installed")
    found = [c for c in index["cells"] if Cell(c["variant"], c["client"], c["network"]) == wanted]
    assert found, f"{key} was not run"
    return found[0]


@pytest.mark.parametrize("key", sorted(BASELINE))
def test_h2_network_cell_matches_baseline(index: dict[str, Any], key: str) -> None:
    c = _cell(index, key)
    assert c["verdict"] == BASELINE[key], f"{key}: {BASELINE[key]} → {c['verdict']}: {c['detail']}"


@pytest.mark.parametrize("network_name", NETWORKS)
@pytest.mark.parametrize("client", SPEAK_H2)
def test_each_cell_records_the_protocol_its_client_used(
    index: dict[str, Any], network_name: str, client: str
) -> None:
    keys = [k for k in BASELINE if k.split(" × ")[1:3] == [client, network_name]]
    assert keys
    spoken = {_cell(index, k)["protocol"] for k in keys}
    # uvicorn's own TLS offers no h2: direct-tls is HTTP/1.1 over TLS.
    h2 = network(network_name).tls and network(network_name).proxy is not None
    assert spoken == ({"h2"} if h2 else {"http/1.1"})


def test_the_baseline_pins_every_cell_of_its_variants_and_clients() -> None:
    from streamcompat.servers.variants import VARIANTS

    assert {Cell.from_key(k).network for k in BASELINE} == set(NETWORKS)
    assert len(every_client()) >= 22 and set(SPEAK_H2) <= set(every_client())
    assert set(PINNED_VARIANTS) <= {v.name for v in VARIANTS} and len(PINNED_VARIANTS) >= 17
    assert len(BASELINE) == len(PINNED_VARIANTS) * len(every_client()) * len(NETWORKS)


def test_tls_and_http2_change_no_verdict_of_these_proxies() -> None:
    """Measured: nginx-h2 holds back what nginx holds back (proxy buffering, whatever the
    protocol to the client), and caddy-h2 and the server's own TLS (direct-tls) pass what
    direct passes; an HTTP/2 client (httpx-h2, curl-h2) gets what its HTTP/1.1 twin gets."""
    direct = json.loads((ROOT / "compat-baseline.json").read_text(encoding="utf-8"))["cells"]

    def twin(key: str, on: str) -> str:
        variant, client, _ = key.split(" × ")
        return f"{variant} × {client.removesuffix('-h2')} × {on}"

    for key, verdict in BASELINE.items():
        where = Cell.from_key(key).network
        if where == "nginx-h2":
            assert verdict == BASELINE[key.replace("nginx-h2", "nginx")], key
        elif where in ("caddy-h2", "direct-tls"):
            assert verdict == direct[twin(key, "direct")], key
        else:
            assert verdict == BASELINE[twin(key, "nginx")], key
