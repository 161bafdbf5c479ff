"""Networks are data: every entry has what it needs to run, and no code branches on a
network's name (adding one is an entry and its shaper or start-up)."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest

from streamcompat.harness.engine.networks import ORIGINS, network_origin
from streamcompat.harness.engine.proxy import SHAPERS
from streamcompat.harness.front import selection
from streamcompat.harness.kernel.networks import DEFAULT_NETWORKS, NETWORKS
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


def test_the_server_origin_is_the_server_itself() -> None:
    async def origins() -> list[str]:
        made = []
        for name in (n for n, net in NETWORKS.items() if net.origin == "server"):
            async with network_origin(name, _Server()) as origin:
                made.append(origin)
        return made

    assert asyncio.run(origins()) == [_Server.origin]


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
