"""The frameworks beside Starlette (``servers.frameworks``): Django's variants run under
ASGI and WSGI servers, Flask's under WSGI only, Django's async one under no gevent worker;
a run says which variant a chosen server runs none of; the WSGI relay answers what it
cannot stream with a status and a sentence; the upstream's body is decoded alike by the
sync and the async relay; `streamcompat list` shows each pitfall."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from streamcompat.harness import cli
from streamcompat.harness.engine.plan import Matrix
from streamcompat.harness.front.selection import cells_line, not_run
from streamcompat.harness.kernel.model import DEFAULT_SERVER, Client
from streamcompat.harness.kernel.servers import SERVERS, server
from streamcompat.servers.chain import Gate
from streamcompat.servers.completions import CompletionDecoder
from streamcompat.servers.frameworks import VARIANTS
from streamcompat.servers.peers import PACED
from streamcompat.servers.relay_wsgi import create_relay
from streamcompat.servers.variants import VARIANTS as BUILTINS

SPEC = "streamcompat.servers.frameworks:VARIANTS"
HTTPX = Client("httpx", "chunk", drive=lambda *a: None)  # type: ignore[arg-type,return-value]


def _rows(variants: Any, servers: tuple[str, ...]) -> list[str]:
    matrix = Matrix(variants=list(variants), clients=[HTTPX], servers=servers)
    return [cell.row for cell in matrix.cells()]


def test_django_runs_under_asgi_and_wsgi_flask_under_wsgi_only() -> None:
    rows = _rows(VARIANTS, (DEFAULT_SERVER, "daphne", "gunicorn", "gunicorn-gevent"))
    assert rows == [
        "django-sync", "django-async",
        "django-sync@daphne", "django-async@daphne",
        "django-sync@gunicorn", "django-async@gunicorn", "flask@gunicorn",
        "flask-stream-with-context@gunicorn",
        "django-sync@gunicorn-gevent", "flask@gunicorn-gevent",
        "flask-stream-with-context@gunicorn-gevent",
    ]  # fmt: skip


def test_no_starlette_variant_runs_under_a_wsgi_server() -> None:
    wsgi = tuple(name for name, record in SERVERS.items() if record.interface == "wsgi")
    assert set(wsgi) == {"gunicorn", "gunicorn-gevent"}
    assert _rows(BUILTINS, wsgi) == []


def test_every_framework_variant_says_its_pitfalls_and_needs_its_framework() -> None:
    for variant in VARIANTS:
        assert variant.pitfalls and variant.modules
        assert ("wsgi" in variant.interfaces) == (variant.respond_wsgi is not None)
        # Whatever it refuses to run under, it says why (and only servers it could run under).
        for name in variant.not_under:
            assert server(name).interface in variant.interfaces
            assert any(name.split("-")[-1] in p for p in variant.pitfalls)


def test_a_run_says_which_variants_a_chosen_server_runs_none_of() -> None:
    matrix = Matrix(
        variants=[BUILTINS[0], *VARIANTS], clients=[HTTPX], servers=("uvicorn", "gunicorn-gevent")
    )
    assert not_run(matrix) == [
        "flask, flask-stream-with-context not under uvicorn (asgi servers)",
        "raw not under gunicorn-gevent (wsgi servers)",
        "django-async not under gunicorn-gevent (its pitfalls say why: streamcompat list)",
    ]
    assert cells_line(matrix).startswith("6 cells (5 variants × 1 clients × 1 networks); flask")
    alone = Matrix(variants=[BUILTINS[0]], clients=[HTTPX], servers=("gunicorn",))
    assert cells_line(alone) == "0 cells (1 variants × 1 clients × 1 networks); " + (
        "raw not under gunicorn (wsgi servers)"
    )


def test_list_shows_the_pitfalls_of_variants_and_servers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["list", f"--variants={SPEC}"]) == 0
    out = capsys.readouterr().out
    assert "pitfall: django PR#19835" in out and "pitfall: benoitc/gunicorn#2936" in out
    assert "pitfall: Kludex/uvicorn#3149" in out  # a server's
    assert "  gunicorn-gevent " in out and " wsgi " in out


def _ask(path: str, method: str = "GET", query: str = "", body: bytes = b"") -> tuple[str, bytes]:
    app = create_relay([SPEC])
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
        "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
    }  # fmt: skip
    said: list[str] = []
    answer = b"".join(app(environ, lambda status, headers: said.append(status)))
    return said[0], answer


@pytest.mark.parametrize(
    ("path", "method", "query", "body", "status", "sentence"),
    [
        ("/_sc/health", "GET", "", b"", "200 OK", b"ok"),
        ("/v/raw", "GET", "stream=s1", b"", "404 Not Found", b"no WSGI variant at /v/raw"),
        ("/v/nope", "GET", "stream=s1", b"", "404 Not Found", b"no WSGI variant"),
        ("/v/flask", "PUT", "stream=s1", b"", "405 Method Not Allowed", b"method not allowed"),
        ("/v/flask", "GET", "", b"", "400 Bad Request", b"missing stream id"),
        ("/v/flask", "POST", "", b"{not json", "400 Bad Request", b"body must be JSON"),
        ("/v/flask", "POST", "", b"[1, 2]", "400 Bad Request", b"missing stream id"),
    ],
)
def test_the_wsgi_relay_answers_what_it_cannot_stream_with_a_sentence(
    path: str, method: str, query: str, body: bytes, status: str, sentence: bytes
) -> None:
    said, answer = _ask(path, method, query, body)
    assert said == status and sentence in answer


def test_the_wsgi_relay_serves_the_browser_drivers_blank_page() -> None:
    status, page = _ask("/_sc/blank")
    assert status == "200 OK" and page.lstrip().lower().startswith(b"<!doctype html")


def _chunk(token: str) -> bytes:
    return b"data: " + json.dumps({"choices": [{"delta": {"content": token}}]}).encode() + b"\n\n"


def test_the_upstreams_body_is_decoded_however_it_is_cut() -> None:
    body = _chunk("Hello") + _chunk(" wo\nrld") + b": ping\n\n" + _chunk("") + b"data: [DONE]\n\n"
    for size in (1, 3, 7, len(body)):
        decoder = CompletionDecoder()
        tokens = [t for i in range(0, len(body), size) for t in decoder.feed(body[i : i + size])]
        assert tokens == ["Hello", " wo\nrld"] and decoder.done
    late = CompletionDecoder()
    assert late.feed(b"data: [DONE]\n\n" + _chunk("after")) == [] and late.done


def test_the_upstreams_word_to_pace_is_read_however_it_is_cut() -> None:
    body = b": ping\n\n" + _chunk("a") + PACED.encode() + b"\n\n" + _chunk("b")
    for size in (1, 5, len(body)):
        decoder = CompletionDecoder()
        seen = []
        for i in range(0, len(body), size):
            seen += [(t, decoder.paced) for t in decoder.feed(body[i : i + size])]
        assert seen[-1] == ("b", True) and decoder.paced
    other = CompletionDecoder()
    other.feed(b": ping\n\n" + _chunk("a"))
    assert not other.paced


def test_once_left_a_relayed_stream_runs_only_as_far_as_the_relay_asks() -> None:
    own, relayed = Gate(), Gate()
    relayed.relay_paces = True
    for gate in (own, relayed):
        gate.release(5)
        gate.want(6)
        gate.leave()  # the token the body waits for goes
        assert gate.released == 6
        gate.want(7)  # the upstream's own response asks for the next one
    assert own.released == 7 and relayed.released == 6  # a relay's TCP buffer is no ask
    relayed.pull(7)
    assert relayed.released == 7
    before = Gate()
    before.relay_paces = True
    before.pull(3)  # before the client left, the harness alone releases
    assert before.released == 0
