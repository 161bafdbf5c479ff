"""Child processes end, by PID: ``processes.end`` (SIGTERM to the group, SIGKILL after its
bound), a variant server or an app whose start failed, and the /proc helper the other
tests use to find what a run left behind."""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streamcompat.harness.engine import server as server_module
from streamcompat.harness.engine.app import App, AppError, AppProcess
from streamcompat.harness.engine.server import ServerError, ServerProcess
from streamcompat.harness.hosts import processes
from streamcompat.harness.hosts.processes import end, spawn_piped
from tests.support.procs import alive, descendants

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="/proc and pidfds")

BOUND_S = 30.0  # generous: a child must get this far within it, on any machine

# A child in its own group (spawn_piped) that starts a grandchild, says its PID, and
# waits for its stdin to close; the grandchild waits for a signal, nothing else.
WITH_GRANDCHILD = """
import subprocess, sys
grandchild = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"])
print(grandchild.pid, flush=True)
sys.stdin.read()
"""

# A child that ignores SIGTERM, and says so once it does.
DEAF = """
import signal, sys
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("deaf", flush=True)
sys.stdin.read()
"""


def first_line(process: subprocess.Popen[bytes]) -> str:
    """The child's first line of output, within BOUND_S."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], BOUND_S)
    assert ready, f"the child said nothing within {BOUND_S:.0f} s"
    return process.stdout.readline().decode().strip()


def gone_within(pid: int, bound: float) -> bool:
    """True once ``pid`` has exited (a zombie counts: it runs nothing), waiting at most
    ``bound`` for it: a pidfd becomes readable when its process exits."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = select.select([fd], [], [], bound)
        return bool(ready) or not alive(pid)
    finally:
        os.close(fd)


def put_down(process: subprocess.Popen[bytes], *others: int) -> None:
    """Whatever a failing test left: kill it by PID, and reap our child."""
    for pid in others:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(BOUND_S)
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()


@pytest.fixture
def family() -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A child (its own group) and its grandchild's PID."""
    child = spawn_piped([sys.executable, "-c", WITH_GRANDCHILD])
    grandchild = 0
    try:
        grandchild = int(first_line(child))
        yield child, grandchild
    finally:
        put_down(child, *([grandchild] if grandchild else []))


def test_descendants_finds_children_and_grandchildren(
    family: tuple[subprocess.Popen[bytes], int],
) -> None:
    child, grandchild = family
    found = descendants(os.getpid())
    assert {child.pid, grandchild} <= found
    assert os.getpid() not in found
    assert descendants(child.pid) == {grandchild}
    assert descendants(grandchild) == set()


def test_end_ends_the_childs_whole_group(family: tuple[subprocess.Popen[bytes], int]) -> None:
    child, grandchild = family
    asyncio.run(end(child))
    assert child.returncode == -signal.SIGTERM
    assert gone_within(grandchild, BOUND_S), "the grandchild outlived end()"
    assert not {child.pid, grandchild} & descendants(os.getpid())


def test_end_kills_a_child_that_ignores_sigterm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(processes, "STOP_BOUND_S", 0.5)
    child = spawn_piped([sys.executable, "-c", DEAF])
    try:
        assert first_line(child) == "deaf"  # SIGTERM is ignored from here on
        asyncio.run(asyncio.wait_for(end(child), BOUND_S))
        assert child.returncode == -signal.SIGKILL
        assert not alive(child.pid)
    finally:
        put_down(child)


def test_end_of_no_child_or_an_ended_one_does_nothing() -> None:
    asyncio.run(end(None))
    child = spawn_piped([sys.executable, "-c", "pass"])
    try:
        assert child.wait(BOUND_S) == 0
        asyncio.run(end(child))
        assert child.returncode == 0
    finally:
        put_down(child)


# A variant server whose start failed leaves nothing behind.


@pytest.fixture
def servers_started(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Every variant server process ServerProcess starts, for the test to check by PID."""
    started: list[subprocess.Popen[bytes]] = []
    real_spawn = processes.spawn

    def spawn(*args: Any, **options: Any) -> subprocess.Popen[bytes]:
        started.append(real_spawn(*args, **options))
        return started[-1]

    monkeypatch.setattr(server_module, "spawn", spawn)
    yield started
    for process in started:
        put_down(process)


def start(specs: list[str]) -> None:
    async def main() -> None:
        async with ServerProcess(specs):
            raise AssertionError("the server should not have started")

    asyncio.run(main())


def test_a_server_that_exits_at_once_leaves_no_process(
    servers_started: list[subprocess.Popen[bytes]],
) -> None:
    with pytest.raises(ServerError, match=r"exited with code 2: .*cannot import"):
        start(["no_such_module:VARIANTS"])
    [process] = servers_started
    assert process.returncode == 2
    assert not alive(process.pid) and process.pid not in descendants(os.getpid())


def test_a_server_that_does_not_answer_in_time_is_ended(
    servers_started: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # No time to answer: the start fails while the server is still starting up.
    monkeypatch.setattr(server_module, "START_BOUND_S", 0.0)
    with pytest.raises(ServerError, match="did not answer"):
        start(["builtin"])
    [process] = servers_started
    assert process.returncode is not None  # ended and reaped, not merely signalled
    assert not alive(process.pid) and process.pid not in descendants(os.getpid())


# An app whose start failed leaves nothing behind: unlike the variant server, nothing but
# ``processes.Lifecycle`` ends it when its start fails.

NEVER_LISTENS = "import signal; signal.pause()"


def test_an_app_that_does_not_listen_in_time_is_ended(tmp_path: Path) -> None:
    # It never listens, so its start fails at its start timeout while it still runs.
    command = f"{sys.executable} -c {shlex.quote(NEVER_LISTENS)} {{port}}"
    app = App(command, start_timeout=0.01, log=tmp_path / "app.log")
    running = AppProcess(app, upstream="http://127.0.0.1:9")  # never called

    async def main() -> None:
        async with running:
            raise AssertionError("the app should not have started")

    try:
        with pytest.raises(AppError, match="did not listen"):
            asyncio.run(main())
        process = running.process
        assert process is not None
        assert process.returncode is not None  # ended and reaped, not merely signalled
        assert not alive(process.pid) and process.pid not in descendants(os.getpid())
    finally:
        if running.process is not None:
            put_down(running.process)


def test_together_ends_everything_at_once_and_raises_the_first_failure() -> None:
    # Each end waits for the other to have begun: ended one after the other, as an
    # AsyncExitStack would, the first would wait out its bound and the test fail.
    async def main() -> list[str]:
        began = {name: asyncio.Event() for name in ("server", "browser", "proxy")}
        log: list[str] = []

        def ender(name: str, other: str, fails: bool = False) -> Any:
            async def end_it() -> None:
                began[name].set()
                await asyncio.wait_for(began[other].wait(), BOUND_S)
                log.append(name)
                if fails:
                    raise RuntimeError(f"{name} failed to end")

            return end_it

        @contextlib.asynccontextmanager
        async def proxy() -> Any:
            yield "origin"
            await ender("proxy", "server")()

        with pytest.raises(RuntimeError, match="browser failed to end"):
            async with processes.Together() as ends:
                ends.callback(ender("server", "browser"))
                ends.callback(ender("browser", "proxy", fails=True))
                assert await ends.enter(proxy()) == "origin"
        return sorted(log)

    assert asyncio.run(asyncio.wait_for(main(), BOUND_S)) == ["browser", "proxy", "server"]


def test_together_finishes_every_end_when_cancelled_meanwhile() -> None:
    # A second Ctrl-C while the run's processes end: each end still runs to its finish
    # (all are bounded), and the cancellation is raised after them.
    async def main() -> tuple[list[str], bool]:
        log: list[str] = []
        release = asyncio.Event()
        ending = asyncio.Event()

        async def slow_end(name: str) -> None:
            ending.set()
            await asyncio.wait_for(release.wait(), BOUND_S)
            log.append(name)

        async def run() -> None:
            async with processes.Together() as ends:
                ends.callback(lambda: slow_end("server"))
                ends.callback(lambda: slow_end("browser"))

        task = asyncio.ensure_future(run())
        await asyncio.wait_for(ending.wait(), BOUND_S)
        task.cancel()  # while both ends are under way
        release.set()
        await asyncio.gather(task, return_exceptions=True)
        return sorted(log), task.cancelled()

    assert asyncio.run(asyncio.wait_for(main(), BOUND_S)) == (["browser", "server"], True)
