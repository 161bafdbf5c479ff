"""Networks are data: every entry has what it needs to run, and no code branches on a
network's name (adding one is an entry and its shaper or start-up)."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest

from streamcompat.harness.engine.networks import ORIGINS, network_origin, which_hop
from streamcompat.harness.engine.proxy import SHAPERS
from streamcompat.harness.front import selection
from streamcompat.harness.kernel.model import Cell, Facts, Result, Verdict
from streamcompat.harness.kernel.networks import DEFAULT_NETWORKS, NETWORK_GROUPS, NETWORKS, network
from tests.support import ROOT


@pytest.mark.parametrize("name", NETWORKS)
def test_each_network_can_be_made(name: str) -> None:
    network = NETWORKS[name]
    assert network.name == name and network.description
    assert network.origin in ORIGINS
    if network.origin == "shaper":
        assert name in SHAPERS
    assert network.between == (network.origin != "server")


def test_the_front_ends_list_the_table() -> None:
    assert list(selection.NETWORK_DESCRIPTIONS) == list(NETWORKS)
    assert set(DEFAULT_NETWORKS) <= set(NETWORKS)
    assert selection.select_networks([]) == DEFAULT_NETWORKS


class _Server:
    origin = "http://127.0.0.1:9"
    port = 9
    tls_origin = "https://127.0.0.1:10"  # the same server's TLS socket (direct-tls)


def test_the_server_origin_is_the_server_itself() -> None:
    async def origins() -> list[str]:
        made = []
        for name in (n for n, net in NETWORKS.items() if net.origin == "server"):
            async with network_origin(name, _Server()) as origin:
                made.append(origin)
        return made

    assert asyncio.run(origins()) == [_Server.origin, _Server.tls_origin]


def _compared_strings(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for side in [node.left, *node.comparators]:
                if isinstance(side, ast.Constant) and isinstance(side.value, str):
                    found.add(side.value)
    return found


@pytest.mark.parametrize(
    "path",
    sorted(p for d in ("harness", "servers", "clients") for p in (ROOT / d).rglob("*.py")),
    ids=lambda p: str(Path(p).relative_to(ROOT)),
)
def test_no_code_branches_on_a_network_name(path: Path) -> None:
    named = _compared_strings(ast.parse(path.read_text(encoding="utf-8"))) & set(NETWORKS)
    assert not named, f"compares against network names {sorted(named)}: read kernel.networks"


def test_each_real_proxy_network_names_a_proxy_kind() -> None:
    from streamcompat.harness.hosts.proxies import PROXIES

    proxied = [n for n in NETWORKS.values() if n.origin == "proxy"]
    assert {n.proxy for n in proxied} == set(PROXIES)
    assert NETWORK_GROUPS["real"] == tuple(n.name for n in proxied if not n.tls)
    assert NETWORK_GROUPS["tls"] == tuple(n.name for n in NETWORKS.values() if n.tls)
    for group in ("real", "tls"):
        assert not set(DEFAULT_NETWORKS) & set(NETWORK_GROUPS[group])  # opt-in


def test_kind_colon_file_is_a_real_proxy_on_the_users_config() -> None:
    own = network("nginx:deploy/nginx.conf")
    assert (own.name, own.origin, own.proxy, own.config) == (
        "nginx:deploy/nginx.conf", "proxy", "nginx", "deploy/nginx.conf",
    )  # fmt: skip
    assert network("caddy") is NETWORKS["caddy"] and network("caddy").config is None
    for bad in ("split:x.conf", "nginx:", "nope:x.conf", "nope"):
        with pytest.raises(KeyError):
            network(bad)


def test_selection_expands_the_group_and_checks_a_users_file(tmp_path: Path) -> None:
    conf = tmp_path / "nginx.conf"
    conf.write_text("server {}\n")
    assert selection.select_networks(["direct", "real"]) == ("direct", *NETWORK_GROUPS["real"])
    assert selection.select_networks([f"nginx:{conf}"]) == (f"nginx:{conf}",)
    with pytest.raises(selection.UsageError, match="no such file"):
        selection.select_networks([f"nginx:{tmp_path / 'missing.conf'}"])
    with pytest.raises(selection.UsageError, match="KIND:FILE, KIND one of nginx, caddy"):
        selection.select_networks([f"split:{conf}"])


def test_a_missing_proxy_binary_skips_its_networks_naming_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamcompat.harness.front.availability import Skipped, networks_unavailable

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("shutil.which", lambda name, path=None: None)
    missing = networks_unavailable(["direct", "split", "nginx", "nginx:x.conf", "apache"])
    assert list(missing) == ["nginx", "nginx:x.conf", "apache"]
    assert "apt-get install nginx" in missing["nginx"]
    assert "apt-get install apache2-bin" in missing["apache"]
    skipped = Skipped(networks=missing)
    assert skipped.covers("raw × curl × nginx") and not skipped.covers("raw × curl × direct")
    assert ("network apache", missing["apache"]) in skipped.notices()
    assert skipped.reasons["nginx"] == missing["nginx"]


def _result(network: str, verdict: str, lag: float | None = 0.2, client: str = "curl") -> Result:
    cell = Cell("raw", client, network)
    return Result(cell, Verdict(verdict), "said", None, lag, lag, 50.0, Facts(tokens=[]))


def test_a_real_proxy_cell_worse_than_direct_names_the_hop_and_its_fix() -> None:
    told = which_hop([_result("direct", "PASS"), _result("nginx", "BUFFERED")])
    assert told[0].detail == "said"
    assert told[1].detail.startswith("said (direct: PASS; nginx made it BUFFERED: nginx buffers")
    assert "proxy_buffering off;" in told[1].detail


def test_direct_is_read_from_the_baseline_when_the_run_has_none() -> None:
    expected = {"raw × curl × direct": "PASS"}
    (told,) = which_hop([_result("apache", "BUFFERED")], expected)
    assert (
        "direct: PASS; apache made it BUFFERED" in told.detail and "flushpackets=on" in told.detail
    )


@pytest.mark.parametrize(
    ("before", "now", "network"),
    [
        ("BUFFERED", "BUFFERED", "nginx"),  # as on direct: the client's, not the hop's
        ("PASS", "PASS", "nginx"),
        ("CORRUPT", "BUFFERED", "nginx"),  # better than on direct
        ("PASS", "BUFFERED", "buffer-16k"),  # a shaper, not a real proxy
    ],
)
def test_a_cell_the_hop_did_not_make_worse_is_left_as_it_is(
    before: str, now: str, network: str
) -> None:
    (told,) = which_hop([_result(network, now)], {"raw × curl × direct": before})
    assert told.detail == "said"


def test_a_hop_that_delays_every_token_says_so_with_its_fix() -> None:
    told = which_hop([_result("direct", "PASS", 0.2), _result("haproxy", "PASS", 207.0)])
    assert "lag p50 207 ms on haproxy, 0.2 ms on direct" in told[1].detail
    assert "option http-no-delay" in told[1].detail
    calm = which_hop([_result("direct", "PASS", 0.2), _result("haproxy", "PASS", 30.0)])
    assert calm[1].detail == "said"  # within LAG_NOTE_MS of direct
