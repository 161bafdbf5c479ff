"""A relay's stream whose client has left (the abort scenario, "let run") runs as far as
the relay's own response asks, over real sockets: the variant server's fake upstream, and
the relays' reader (``servers.completions``) reading it as the relays do."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import pytest

from streamcompat.harness.engine.server import ServerProcess
from streamcompat.harness.kernel.server_record import ServerRecord
from streamcompat.servers import completions

TOKENS = [f" t{k}" for k in range(1, 9)]
SETTLE_S = 0.5  # the harness's wait while the response waits, and again while it runs


@pytest.fixture(autouse=True)
def fresh_clients() -> Iterator[None]:
    """The reader's clients are one per process, made for the first base URL they see."""
    completions._async_client = completions._sync_client = None
    yield
    if completions._sync_client is not None:
        completions._sync_client.close()
    completions._async_client = completions._sync_client = None


def _run(read_after_leaving: int, sync: bool, monkeypatch: pytest.MonkeyPatch) -> ServerRecord:
    """Release 2 tokens, read them, leave; read ``read_after_leaving`` more; the record."""

    async def main() -> ServerRecord:
        async with ServerProcess(["builtin"], TOKENS) as server:
            monkeypatch.setenv("OPENAI_BASE_URL", f"{server.origin}/v1")
            life = await server.running()
            stream = secrets.token_hex(8)
            life.expect(stream)
            life.release(stream, 2)
            if sync:
                tokens = completions.upstream_tokens_sync(stream, completions.PROMPT)
                take = lambda: asyncio.to_thread(next, tokens)  # noqa: E731
            else:
                atokens = completions.upstream_tokens(stream, completions.PROMPT)
                take = lambda: anext(atokens)  # noqa: E731
            assert [await take(), await take()] == TOKENS[:2]
            taking = asyncio.ensure_future(life.take(stream, settle=SETTLE_S))
            got = [await asyncio.wait_for(take(), 10) for _ in range(read_after_leaving)]
            assert got == TOKENS[2 : 2 + read_after_leaving]
            record = await taking
            if sync:
                tokens.close()
            else:
                await atokens.aclose()
            return record

    return asyncio.run(asyncio.wait_for(main(), 30))


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
@pytest.mark.parametrize("read", [1, 3])
def test_a_left_stream_runs_as_far_as_the_relay_reads(
    read: int, sync: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = _run(read, sync, monkeypatch)
    assert record.left  # not cancelled while the response waited: let run
    # Token 3 went when the client left (the one the response waited for); each further
    # one only when the relay asked for it. Without that, the upstream's response would
    # have sent all 8 into the relay's TCP buffer.
    assert record.generated == 2 + read
    assert not record.ended_at and not record.finished
