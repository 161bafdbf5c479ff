"""Framings and codecs: every tricky token survives its framing and decodes back exactly."""

from __future__ import annotations

import json

import pytest

from streamcompat.harness.kernel.codecs import DecodeError, Display, codec
from streamcompat.harness.kernel.tokens import DEFAULT_TOKENS, LONG_TOKEN
from streamcompat.harness.spec.sse_oracle import parse
from streamcompat.servers.framings import SSE_END, raw, sse, sse_json

TRICKY = [
    *DEFAULT_TOKENS,
    "\r\n",
    "a\rb",
    "",
]


def test_script_has_what_breaks_clients() -> None:
    joined = "".join(DEFAULT_TOKENS)
    assert 25 <= len(DEFAULT_TOKENS) <= 40
    assert any(t.startswith(" ") for t in DEFAULT_TOKENS)
    assert any(len(c.encode()) == 2 for c in joined) and any(len(c.encode()) == 4 for c in joined)
    assert any(len(c.encode()) == 3 for c in joined)
    assert "\n" in DEFAULT_TOKENS and "\n\n" in DEFAULT_TOKENS
    assert any(t.startswith(":") for t in DEFAULT_TOKENS)
    assert any("data: " in t for t in DEFAULT_TOKENS)
    assert any('"' in t for t in DEFAULT_TOKENS) and any("\\" in t for t in DEFAULT_TOKENS)
    assert len(LONG_TOKEN.encode()) >= 64 * 1024 and LONG_TOKEN in DEFAULT_TOKENS


@pytest.mark.parametrize("token", TRICKY, ids=repr)
def test_sse_framing_round_trips_through_the_spec_oracle(token: str) -> None:
    events = parse(sse(token).encode())
    if token == "":
        assert [e.data for e in events] == [""]
    else:
        # CR and CRLF inside a token become LF: SSE has no way to carry them.
        assert [e.data for e in events] == [token.replace("\r\n", "\n").replace("\r", "\n")]


@pytest.mark.parametrize("token", TRICKY, ids=repr)
def test_sse_json_round_trips(token: str) -> None:
    (event,) = parse(sse_json(token).encode())
    assert codec("json:token")(event.data) == token


def test_whole_sse_stream_gives_tokens_then_end_event() -> None:
    wire = "".join(sse(t) for t in DEFAULT_TOKENS) + SSE_END
    events = parse(wire.encode())
    assert [e.data for e in events if e.type == "message"] == list(DEFAULT_TOKENS)
    assert events[-1].type == "end"


def test_raw_is_identity() -> None:
    assert "".join(raw(t) for t in DEFAULT_TOKENS) == "".join(DEFAULT_TOKENS)


def test_text_codec_chunks_concatenate() -> None:
    d = Display("text", "chunk")
    assert [d.feed(p) for p in ["He", "llo\n", "x"]] == ["He", "llo\n", "x"]


def test_text_codec_lines_restore_removed_newlines() -> None:
    d = Display("text", "line")
    shown = "".join(d.feed(p) for p in ["Hello", "", "world"])
    assert shown == "Hello\n\nworld"


def test_json_codec_on_lines_skips_blank_lines_like_ndjson_readers() -> None:
    d = Display("json:token", "line")
    assert d.feed('{"token": "a"}') == "a"
    assert d.feed("") == ""
    with pytest.raises(DecodeError, match="not a JSON object"):
        d.feed('data: {"token": "b"}')


def test_json_codec_rejects_non_string_token() -> None:
    with pytest.raises(DecodeError, match="not a string"):
        codec("json:token")(json.dumps({"token": 3}))


def test_openai_codec() -> None:
    decode = codec("openai")
    chunk = {"choices": [{"index": 0, "delta": {"content": "Hi"}}]}
    assert decode(json.dumps(chunk)) == "Hi"
    assert decode(json.dumps({"choices": [{"delta": {"role": "assistant"}}]})) == ""
    assert decode("[DONE]") == ""
    with pytest.raises(DecodeError):
        decode("{}")


def test_unknown_codec_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown codec"):
        codec("xml")
