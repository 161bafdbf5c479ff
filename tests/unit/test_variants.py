"""The built-in variants' wire bytes, read by the spec oracle: correct framings give back
every token exactly, the broken ones (the bugs they model) do not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from streamcompat.harness.kernel.codecs import codec
from streamcompat.harness.kernel.model import Variant
from streamcompat.harness.kernel.tokens import DEFAULT_TOKENS
from streamcompat.harness.spec.sse_oracle import parse
from streamcompat.servers.variants import VARIANTS

BY_NAME = {v.name: v for v in VARIANTS}
SPEC_CORRECT = [
    "sse",
    "sse-json",
    "sse-crlf",
    "sse-cr",
    "sse-bom",
    "sse-named",
    "sse-comments",
    "openai",
]  # fmt: skip  (sse-starlette encodes in its ASGI call: the matrix covers it)
BROKEN = {"sse-naive": "newline", "sse-nospace": "leading space", "prefix-suffix": "newline"}


async def _tokens() -> AsyncIterator[str]:
    for token in DEFAULT_TOKENS:
        yield token


def wire(variant: Variant) -> bytes:
    async def collect() -> bytes:
        response = variant.respond(_tokens())
        chunks = [c async for c in response.body_iterator]
        return b"".join(c.encode() if isinstance(c, str) else bytes(c) for c in chunks)

    return asyncio.run(collect())


def tokens_seen(variant: Variant) -> list[str]:
    decode = codec(variant.codec)
    events = [e for e in parse(wire(variant)) if e.type == variant.event]
    if variant.end_data is not None:
        events = [e for e in events if e.data != variant.end_data]
    return [decode(e.data) for e in events if decode(e.data) or not e.data]


def test_at_least_fourteen_variants_with_unique_names() -> None:
    assert len(VARIANTS) >= 14 and len(BY_NAME) == len(VARIANTS)


@pytest.mark.parametrize("name", SPEC_CORRECT)
def test_spec_correct_framings_carry_every_token(name: str) -> None:
    seen = "".join(tokens_seen(BY_NAME[name]))
    assert seen == "".join(DEFAULT_TOKENS)


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_framings_lose_what_they_model(name: str) -> None:
    seen = "".join(tokens_seen(BY_NAME[name]))
    assert seen != "".join(DEFAULT_TOKENS)
    if BROKEN[name] == "newline":
        assert "Second line\n\nParagraph" not in seen and "Second line" in seen
    else:
        assert "Hello world" not in seen and "Helloworld" in seen


def test_end_markers() -> None:
    assert parse(wire(BY_NAME["sse"]))[-1].type == "end"
    assert parse(wire(BY_NAME["openai"]))[-1].data == "[DONE]"
    named = parse(wire(BY_NAME["sse-named"]))
    assert all(e.type == "data" for e in named)  # the data-less end event never fires
    assert named[-1].last_event_id == str(len(DEFAULT_TOKENS))


def test_sse_bom_and_crlf_wire_shapes() -> None:
    assert wire(BY_NAME["sse-bom"]).startswith("\ufeffdata: Hello\n".encode())
    assert wire(BY_NAME["sse-crlf"]).startswith(b"data: Hello\r\n\r\n")
    assert b": ping\n" in wire(BY_NAME["sse-comments"])


def test_ndjson_is_one_object_per_line() -> None:
    lines = wire(BY_NAME["ndjson"]).decode().splitlines()
    assert [codec("json:token")(line) for line in lines] == list(DEFAULT_TOKENS)


# Heartbeats (sse-comments): a comment whenever HEARTBEAT_S pass without a token.


def test_heartbeats_come_while_the_model_thinks_and_stop_with_the_tokens() -> None:
    from streamcompat.servers.framings import with_heartbeats
    from tests.support.fake_clock import FakeClockLoop, run_on_fake_clock

    async def main(loop: FakeClockLoop) -> list[tuple[float, str | None]]:
        async def thinking() -> AsyncIterator[str]:
            await asyncio.sleep(5.0)  # the model thinks (on the fake clock: no real time)
            yield "a"
            yield "b"

        return [(loop.time(), t) async for t in with_heartbeats(thinking(), every=2.0)]

    assert run_on_fake_clock(main) == [(2.0, None), (4.0, None), (5.0, "a"), (5.0, "b")]


def test_closing_a_heartbeating_stream_cancels_its_token_source() -> None:
    from streamcompat.servers.framings import with_heartbeats

    async def main() -> bool:
        cancelled = asyncio.Event()

        async def never() -> AsyncIterator[str]:
            try:
                await asyncio.Event().wait()
                yield "never"
            except asyncio.CancelledError:
                cancelled.set()
                raise

        beats = with_heartbeats(never(), every=0.01)
        assert await anext(beats) is None
        await beats.aclose()  # the client left: the response closes its body
        await asyncio.wait_for(cancelled.wait(), 5)
        return cancelled.is_set()

    assert asyncio.run(main())
