"""Servers as data (``kernel.servers``): a cell names its server in its key unless it is
uvicorn, the matrix runs a variant only under servers of its interface, ``--server`` picks
them by name, a server whose package is absent is skipped, saying what to install, and a
server's known pitfalls are said in the detail of the cells whose verdict they may explain."""

from __future__ import annotations

import re
import sys

import pytest

from streamcompat.harness.engine.plan import Matrix
from streamcompat.harness.engine.serving import relay_app
from streamcompat.harness.front.availability import Skipped, servers_unavailable
from streamcompat.harness.front.selection import Request, UsageError, select_servers
from streamcompat.harness.kernel.model import (
    DEFAULT_SERVER,
    Cell,
    Client,
    Variant,
    Verdict,
    split_row,
)
from streamcompat.harness.kernel.servers import RELAY_APPS, SERVERS, Server, pitfall, server
from streamcompat.harness.kernel.verdicts import with_pitfalls
from tests.support import ROOT


def test_a_cell_under_the_default_server_keeps_its_key() -> None:
    assert Cell("raw", "httpx").key == "raw × httpx × direct"
    assert Cell.from_key("raw × httpx × direct").server == DEFAULT_SERVER


@pytest.mark.parametrize(
    "key", ["raw@hypercorn × httpx × direct", "sse@granian × curl × split × abort"]
)
def test_a_cell_under_another_server_names_it_and_is_read_back(key: str) -> None:
    cell = Cell.from_key(key)
    assert cell.server in SERVERS and "@" not in cell.variant
    assert cell.key == key
    assert cell.row == key.split(" × ")[0]


@pytest.mark.parametrize("row", ["@hypercorn", "raw@", f"raw@{DEFAULT_SERVER}"])
def test_a_row_naming_no_server_or_the_default_is_no_cell(row: str) -> None:
    with pytest.raises(ValueError):
        split_row(row)
    with pytest.raises(ValueError):
        Cell.from_key(f"{row} × httpx × direct")


def _variant(name: str, interfaces: frozenset[str] = frozenset({"asgi"})) -> Variant:
    return Variant(name, respond=lambda tokens: None, interfaces=interfaces)


def test_the_matrix_runs_a_variant_only_under_servers_of_its_interface() -> None:
    wsgi = Server("wsgi-one", "a WSGI server", ("{python}",), interface="wsgi")
    SERVERS[wsgi.name] = wsgi
    try:
        matrix = Matrix(
            variants=[_variant("raw"), _variant("flask", frozenset({"wsgi"}))],
            clients=[Client("httpx", "chunk", drive=lambda *a: None)],  # type: ignore[arg-type,return-value]
            servers=(DEFAULT_SERVER, "hypercorn", "wsgi-one"),
        )
        keys = [c.key for c in matrix.cells()]
    finally:
        del SERVERS[wsgi.name]
    assert keys == [
        "raw × httpx × direct",
        "raw@hypercorn × httpx × direct",
        "flask@wsgi-one × httpx × direct",
    ]


def test_servers_are_picked_by_name_or_all_and_default_to_uvicorn() -> None:
    assert select_servers([]) == (DEFAULT_SERVER,)
    assert select_servers(["all"]) == tuple(SERVERS)
    assert select_servers(["daphne", "hypercorn", "daphne"]) == ("daphne", "hypercorn")
    with pytest.raises(UsageError, match=r"unknown server.*known: uvicorn"):
        select_servers(["tornado"])
    assert Request.of(servers="hypercorn").restricted  # the baseline's others are not its


def test_a_server_without_its_package_is_skipped_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "hypercorn", None)  # as if not installed
    missing = servers_unavailable(["hypercorn", DEFAULT_SERVER])
    assert list(missing) == ["hypercorn"]
    assert "pip install 'streamcompat[servers]'" in missing["hypercorn"]
    skipped = Skipped(servers=missing)
    assert ("server hypercorn", missing["hypercorn"]) in skipped.notices()
    assert skipped.covers("raw@hypercorn × httpx × direct")
    assert not skipped.covers("raw × httpx × direct")


def _extra(name: str) -> list[str]:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    found = re.search(rf"^{name} = \[(.*?)^\]", text, re.S | re.M)
    assert found, f"no {name} extra"
    return re.findall(r'"([^"]+)"', found.group(1))


@pytest.mark.parametrize("name", sorted(SERVERS))
def test_each_server_is_pinned_in_the_servers_extra_and_starts_on_loopback(name: str) -> None:
    record = server(name)
    pinned = {pin.split(";")[0] for pin in _extra("servers")}
    for pin in record.pins:
        assert pin == "uvicorn" or pin in pinned, f"{pin} not in the servers extra"
    assert record.docs.startswith("https://")
    if record.embedded:
        return
    argv = record.argv("/bin/python", 4242)
    assert argv[0] == "/bin/python" and RELAY_APPS[record.interface] in argv
    assert not any("{" in arg for arg in argv), argv
    if record.listens == "port":
        assert "4242" in " ".join(argv) and "127.0.0.1" in " ".join(argv)
        assert "0.0.0.0" not in " ".join(argv)


def test_a_relay_is_an_app_the_harness_starts_and_asks_like_the_variant_server() -> None:
    app = relay_app(server("uvicorn-fd"), ["builtin"], ROOT / "results")
    assert app.relay and app.fd and app.ready == "/_sc/health"
    assert dict(app.env) == {"STREAMCOMPAT_VARIANTS": "builtin"}
    assert "{port}" not in app.command  # it serves the harness's socket, as --fd N
    assert "{port}" in relay_app(server("hypercorn"), ["builtin"], ROOT).command


@pytest.mark.parametrize(
    ("key", "verdict", "said"),
    [
        ("raw@daphne × curl × direct × error", "TIMEOUT", "handle_exception"),
        ("raw@daphne × curl × direct × error", "TOLD", ""),  # a pass explains nothing
        ("raw@daphne × curl × direct", "BUFFERED", "django/daphne#413"),
        ("raw@hypercorn × curl × direct × abort", "LEAK", "pgjones/hypercorn#59"),
        ("raw@hypercorn × curl × direct × abort", "STOPPED", ""),
        ("raw@hypercorn × curl × direct", "BUFFERED", ""),  # #59 is about disconnects
        ("raw@granian × curl × direct × abort", "LEAK", "request; emmett-framework/granian#917"),
        ("raw@uvicorn-workers × curl × direct", "BUFFERED", "Kludex/uvicorn#3149"),
        ("raw × curl × direct", "BUFFERED", ""),  # uvicorn itself: none known
    ],
)
def test_a_servers_pitfall_is_said_where_the_cells_verdict_may_show_it(
    key: str, verdict: str, said: str
) -> None:
    cell = Cell.from_key(key)
    detail = with_pitfalls(cell, Verdict(verdict), "what was seen")
    if not said:
        assert detail == "what was seen"
    else:
        assert detail.startswith(f"what was seen — known of {cell.server}: ")
        assert said in detail


def test_a_pitfall_said_in_a_plain_sentence_may_explain_any_cell_that_did_not_pass() -> None:
    record = Server("x", "x", ("{python}",), pitfalls=("some#1: it breaks", pitfall("b", "LEAK")))
    assert record.explaining(Verdict.TIMEOUT, "error") == ["some#1: it breaks"]
    assert record.explaining(Verdict.LEAK, "abort") == ["some#1: it breaks", "b"]
    assert record.explaining(Verdict.TOLD, "error") == []
    assert record.explaining(Verdict.PASS, "stream") == []
