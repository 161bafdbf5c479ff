"""The keep-alive scenario: its verdict, a pure function of the connections the server saw
(the stream judged only once it went on its first request's connection), the server's
word on a connection (``servers.peers``), and which drivers can keep one."""

from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest
from starlette.requests import Request as StarletteRequest

from streamcompat.clients import CLIENTS
from streamcompat.harness.engine.runner import _no_keep_alive
from streamcompat.harness.kernel.model import Cell, Connection, Facts, Result, Verdict
from streamcompat.harness.kernel.scenarios import SCENARIOS
from streamcompat.harness.kernel.verdicts import judge, new_connection
from streamcompat.harness.outputs.results import cell_record
from streamcompat.servers.peers import PEER_HEADER, connection, nodelay, relayed, says

TOKENS = [f"t{i} " for i in range(1, 6)]


def streamed(*connections: Connection, **facts: object) -> Facts:
    """A keep-alive cell whose client surfaced every token, each before the next."""
    f = Facts(tokens=list(TOKENS), opened=True, status=200, content_type="text/plain")
    f.surfaced_at = [10.04 + i for i in range(len(TOKENS))]  # 40 ms after each emission
    f.emitted_at = [10.0 + i for i in range(len(TOKENS))]
    f.released_at = [9.9 + i for i in range(len(TOKENS) + 1)]
    f.shown = "".join(TOKENS)
    f.ended = True
    f.keep_alive = True
    f.connections = list(connections)
    for name, value in facts.items():
        setattr(f, name, value)
    return f


def test_the_scenario_asks_for_a_kept_connection_and_nothing_else() -> None:
    scenario = SCENARIOS["keep-alive"]
    assert scenario.keep_alive and scenario.streams == 1
    assert (scenario.abort_after, scenario.fail_after) == (0, None)
    assert not any(s.keep_alive for name, s in SCENARIOS.items() if name != "keep-alive")


def test_a_stream_on_its_first_requests_connection_is_judged_as_any_and_says_so() -> None:
    verdict, detail = judge(
        streamed(Connection("first", 4711, False), Connection("stream", 4711, False))
    )
    assert verdict is Verdict.PASS  # 40 ms late each, yet each before the next: causal
    assert "keep-alive: on the connection of its first request, port 4711" in detail
    assert "the server's socket: TCP_NODELAY off; the most lag: token 1, 40 ms" in detail


def test_with_nagle_off_the_detail_names_the_most_lagged_token() -> None:
    held = [10.038, 11.0004, 12.0004, 13.0004, 14.0004]  # token 1 held 38 ms, then quick
    verdict, detail = judge(
        streamed(Connection("first", 4711, False), Connection("stream", 4711, False),
                 surfaced_at=held)
    )  # fmt: skip
    assert verdict is Verdict.PASS
    assert detail.endswith("TCP_NODELAY off; the most lag: token 1, 38 ms after it was produced)")
    _, on = judge(streamed(Connection("first", 4711, True), Connection("stream", 4711, True)))
    assert "the most lag" not in on  # with TCP_NODELAY on (or not known) nothing to explain


def test_a_held_back_token_on_a_kept_connection_is_still_buffered() -> None:
    facts = streamed(
        Connection("first", 4711, True),
        Connection("stream", 4711, True),
        stalled_at=2,
        surfaced_at=[10.04, 12.5, 12.5, 12.5, 12.5],  # token 2 only after token 3 was out
    )
    verdict, detail = judge(facts)
    assert verdict is Verdict.BUFFERED
    assert "the server's socket: TCP_NODELAY on)" in detail


def test_a_stream_on_a_new_connection_tested_nothing_kept_alive() -> None:
    verdict, detail = judge(
        streamed(Connection("first", 4711, None), Connection("stream", 4712, None))
    )
    assert verdict is Verdict.UNSUPPORTED
    assert "new connection (port 4712; its first request came from port 4711)" in detail
    assert "(the stream itself: PASS)" in detail


def test_no_first_request_seen_is_unsupported_too() -> None:
    verdict, detail = judge(streamed(Connection("stream", 4712, None)))
    assert verdict is Verdict.UNSUPPORTED
    assert "saw no first request" in detail


def test_a_stream_request_that_never_came_keeps_the_streams_verdict() -> None:
    facts = streamed(Connection("first", 4711, None), surfaced_at=[], shown="", timed_out=True)
    verdict, detail = judge(facts)
    assert verdict is Verdict.TIMEOUT
    assert "no record of the stream request's connection" in detail


def test_the_cells_record_lists_the_connections() -> None:
    facts = streamed(Connection("first", 4711, False), Connection("stream", 4711, False))
    cell = Cell("raw", "requests", "direct", "keep-alive", "uvicorn-fd")
    record = cell_record(Result(cell, Verdict.PASS, "", 40.0, 40.0, 40.0, 5000.0, facts))
    assert record["connections"] == [
        {"request": "first", "port": 4711, "nodelay": False},
        {"request": "stream", "port": 4711, "nodelay": False},
    ]
    facts.keep_alive = False
    assert "connections" not in cell_record(
        Result(Cell("raw", "requests"), Verdict.PASS, "", 1.0, 1.0, 1.0, 5.0, facts)
    )


# What a server says of a connection.


@pytest.mark.parametrize("on", [True, False])
def test_nodelay_is_read_from_the_servers_socket_through_uvicorns_request_cycle(on: bool) -> None:
    with (
        socket.create_server(("127.0.0.1", 0)) as server,
        socket.create_connection(server.getsockname()),
    ):
        accepted, _ = server.accept()
        with accepted:
            accepted.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, int(on))
            transport = SimpleNamespace(get_extra_info={"socket": accepted}.get)
            receive = SimpleNamespace(__self__=SimpleNamespace(transport=transport))
            assert nodelay(receive) is on


def test_nodelay_is_not_known_where_the_server_keeps_its_socket_to_itself() -> None:
    async def receive() -> None:
        pass

    assert nodelay(receive) is None
    assert nodelay(SimpleNamespace(__self__=SimpleNamespace(transport=None))) is None


def test_a_request_says_its_clients_port() -> None:
    scope = {"type": "http", "client": ("127.0.0.1", 4711), "headers": []}
    assert connection(StarletteRequest(scope)) == (4711, None)


@pytest.mark.parametrize(
    ("said", "heard"),
    [("4711 1", (4711, True)), ("4711 0", (4711, False)), ("4711 ?", (4711, None)),
     ("", None), ("port 1", None), ("-1 1", None)],
)  # fmt: skip
def test_a_relays_word_on_its_clients_connection(said: str, heard: object) -> None:
    headers = [(PEER_HEADER.encode(), said.encode())] if said else []
    assert relayed(StarletteRequest({"type": "http", "headers": headers})) == heard


def test_a_relays_word_round_trips() -> None:
    for peer in ((4711, True), (4711, False), (4711, None)):
        headers = [(PEER_HEADER.encode(), says(peer).encode())]
        assert relayed(StarletteRequest({"type": "http", "headers": headers})) == peer


# Which drivers can keep a connection.


def test_the_drivers_without_a_connection_of_their_own_to_keep_are_the_sdks_and_node() -> None:
    """Python drivers keep theirs in a session (curl: one command, two URLs), browser
    pages fetch first and their cells run alone; the SDKs keep a client of their own, and
    the Node host's cells share undici's pool, which hands a request its oldest idle
    connection."""
    assert {c.name for c in CLIENTS if not c.keeps_connection} == {
        "openai", "langserve", "node-fetch", "node-eventsource", "axios", "openai-node",
        "ai-text", "ai-ui",
    }  # fmt: skip


def test_a_driver_that_cannot_keep_one_is_unsupported_saying_why() -> None:
    by_name = {c.name: c for c in CLIENTS}
    stage = SimpleNamespace(app=None)
    assert _no_keep_alive(by_name["requests"], stage) == ""  # type: ignore[arg-type]
    why = _no_keep_alive(by_name["node-fetch"], stage)  # type: ignore[arg-type]
    assert why.startswith("keep-alive: node-fetch's driver cannot make a first request")
    app = SimpleNamespace(app=SimpleNamespace(app=SimpleNamespace(relay=False)))
    assert "an app under test" in _no_keep_alive(by_name["requests"], app)  # type: ignore[arg-type]


def test_a_stream_on_a_new_connection_is_played_again() -> None:
    facts = streamed(Connection("first", 4711, None), Connection("stream", 4712, None))
    assert new_connection(facts).startswith("the client sent the stream's request on a new")
    facts.connections = [Connection("first", 4711, None), Connection("stream", 4711, None)]
    assert new_connection(facts) == ""
    facts.keep_alive = False
    facts.connections = [Connection("stream", 4712, None)]
    assert new_connection(facts) == ""  # not the keep-alive scenario
