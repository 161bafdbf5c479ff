"""Framings and codecs: every tricky token survives its framing and decodes back exactly."""

from __future__ import annotations

import json

import pytest

from streamcompat.harness.kernel.codecs import DecodeError, Display, codec
from streamcompat.harness.kernel.model import UnitKind
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


def test_ai_ui_codec_shows_text_deltas_and_raises_at_an_error_part() -> None:
    decode = codec("ai-ui")
    assert decode('{"type": "text-delta", "id": "t0", "delta": "Hi\\n"}') == "Hi\n"
    for quiet in ('{"type": "start"}', '{"type": "text-start", "id": "t0"}', '{"type": "finish"}'):
        assert decode(quiet) == ""  # the parts around the text show nothing
    assert decode("[DONE]") == ""
    with pytest.raises(DecodeError, match="an error part: 'boom'"):
        decode('{"type": "error", "errorText": "boom"}')
    for broken in ("Hi", '{"delta": "Hi"}', '{"type": 1}', '{"type": "text-delta", "delta": 2}'):
        with pytest.raises(DecodeError):
            decode(broken)


# The codec spec: a name, or json:<key>. Every other form is refused, naming what is known.


@pytest.mark.parametrize(
    ("name", "payload", "shown"),
    [
        ("text", '{"token": "a"}', '{"token": "a"}'),
        ("json", '"a"', "a"),
        ("json:token", '{"token": "a"}', "a"),
        ("json:t:1", '{"t:1": "a"}', "a"),  # the key is everything after the first colon
        ("json:t", '{"t": "a"}', "a"),  # a one-character key is a key
        ("openai", '{"choices": [{"delta": {"content": "a"}}]}', "a"),
        ("ai-ui", '{"type": "text-delta", "id": "t", "delta": "a"}', "a"),
        ("langserve", '"a"', "a"),
    ],
)
def test_each_form_of_a_codec_spec_names_its_decoder(name: str, payload: str, shown: str) -> None:
    assert codec(name)(payload) == shown


@pytest.mark.parametrize(
    "name",
    [
        "",  # no name
        "xml",  # a name no codec has
        "json:",  # json: with no key
        "jsontoken",  # a key without the colon
        ":token",  # a key without json
        "text:token",  # a key on a codec that takes none
        "openai:x",
        "JSON",  # names are exact: case ...
        "Text",
        " text",  # ... and spaces
        "json ",
    ],
)
def test_a_malformed_codec_spec_is_refused_naming_the_known_ones(name: str) -> None:
    with pytest.raises(ValueError) as refused:
        codec(name)
    assert str(refused.value) == (
        f"unknown codec {name!r} (known: text, json, json:<key>, openai, ai-ui, langserve)"
    )
    assert not isinstance(refused.value, DecodeError)  # a usage error, not a payload's


# Each decoder, on each form of payload: what the user's code would show, or raise.


@pytest.mark.parametrize(
    ("name", "payload", "said"),
    [
        ("json", "x", "not JSON: 'x'"),
        ("json", "", "not JSON: ''"),
        ("json", "3", "not a JSON string: '3'"),
        ("json", "null", "not a JSON string: 'null'"),
        ("json", '{"token": "a"}', "not a JSON string: "),
        ("json:token", "x", "not a JSON object with 'token': 'x'"),
        ("json:token", '["token"]', "not a JSON object with 'token': "),  # a list
        ("json:token", '"token"', "not a JSON object with 'token': "),  # a string
        ("json:token", '{"other": "a"}', "not a JSON object with 'token': "),  # no such key
        ("json:token", '{"token": null}', "'token' is not a string: "),
        ("json:token", '{"token": ["a"]}', "'token' is not a string: "),
        ("openai", "x", "not a chat.completion.chunk: 'x'"),
        ("openai", "{}", "not a chat.completion.chunk: '{}'"),  # no choices
        ("openai", "[]", "not a chat.completion.chunk: '[]'"),  # not an object
        ("openai", '{"choices": 5}', "not a chat.completion.chunk: "),
        ("openai", '{"choices": {"0": {}}}', "not a chat.completion.chunk: "),
        ("openai", '{"choices": ["a"]}', "not a chat.completion.chunk: "),  # choice not an object
        ("openai", '{"choices": [{"delta": "a"}]}', "not a chat.completion.chunk: "),
    ],
)
def test_a_payload_the_users_code_could_not_decode_is_a_decode_error(
    name: str, payload: str, said: str
) -> None:
    with pytest.raises(DecodeError) as refused:
        codec(name)(payload)
    assert str(refused.value).startswith(said)


@pytest.mark.parametrize(
    "payload",
    [
        "[DONE]",  # the end sentinel
        " [DONE]\n",  # with the whitespace a line reader may leave
        '{"choices": []}',  # Azure's first chunk, include_usage's last
        '{"choices": null}',
        '{"choices": [{}]}',  # no delta
        '{"choices": [{"delta": null}]}',
        '{"choices": [{"delta": {"role": "assistant"}}]}',  # no content
        '{"choices": [{"delta": {"content": null}}]}',  # a tool call's chunk
        '{"choices": [{"delta": {"content": 3}}]}',  # content that is no text shows none
    ],
)
def test_an_openai_chunk_without_text_content_shows_nothing(payload: str) -> None:
    assert codec("openai")(payload) == ""


def test_a_long_payload_is_clipped_in_what_the_error_says() -> None:
    with pytest.raises(DecodeError) as refused:
        codec("json")("x" * 100)
    assert str(refused.value) == f"not JSON: {'x' * 60 + '…'!r}"
    with pytest.raises(DecodeError) as exact:
        codec("json")("x" * 60)
    assert str(exact.value) == f"not JSON: {'x' * 60!r}"  # at the limit: whole


# Display: what each kind of client shows, under a structured codec and under text.


@pytest.mark.parametrize(
    ("codec_name", "kind", "payloads", "shown"),
    [
        # A byte client shows its chunks as they are, whatever the codec: no framing.
        ("json:token", "chunk", ['{"tok', 'en": "a"}'], ['{"tok', 'en": "a"}']),
        ("text", "chunk", ["a\n", "", "b"], ["a\n", "", "b"]),
        # A line client under a structured codec decodes each line, skipping blank ones.
        ("json:token", "line", ['{"token": "a"}', "", "  ", '{"token": "b"}'], ["a", "", "", "b"]),
        ("json", "line", [r'"a\n"'], ["a\n"]),  # an escaped newline, decoded
        # Under text, the newline the reader removed comes back before every line but the first.
        ("text", "line", ["a", "", "b"], ["a", "\n", "\nb"]),
        ("text", "line", ["", "a"], ["", "\na"]),
        # An event client decodes every event's data, an empty one included.
        ("text", "event", ["a", "", "b"], ["a", "", "b"]),
        ("json:token", "event", ['{"token": ""}', '{"token": "b"}'], ["", "b"]),
        ("openai", "event", ["[DONE]"], [""]),
    ],
)
def test_a_display_shows_what_its_kind_of_client_shows(
    codec_name: str, kind: UnitKind, payloads: list[str], shown: list[str]
) -> None:
    display = Display(codec_name, kind)
    assert [display.feed(p) for p in payloads] == shown
    assert display.units == len(payloads)


@pytest.mark.parametrize("kind", ["line", "event"])
def test_a_display_raises_what_the_codec_raises_on_lines_and_events(kind: UnitKind) -> None:
    display = Display("json:token", kind)
    with pytest.raises(DecodeError, match="not a JSON object"):
        display.feed("data: x")
    assert display.units == 1  # the unit counts: the verdict names it


def test_a_display_with_a_malformed_codec_spec_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown codec 'json:'"):
        Display("json:", "event")
