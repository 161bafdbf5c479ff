"""langserve's client driver leaves no finalizer of a runnable it has closed itself:
langserve's own, run by the garbage collector inside another thread pool's ``submit``,
deadlocks on concurrent.futures' global lock (a test run hung there)."""

from __future__ import annotations

import weakref

import pytest

from streamcompat.clients.with_langserve import detach_finalizers


class Runnable:
    pass


def test_the_finalizers_of_the_closed_runnable_are_detached_and_no_others() -> None:
    runnable, other = Runnable(), Runnable()
    closed: list[str] = []
    mine = weakref.finalize(runnable, closed.append, "runnable")
    theirs = weakref.finalize(other, closed.append, "other")
    detach_finalizers(runnable)
    assert not mine.alive and theirs.alive
    del runnable, other  # collected: only the other's finalizer runs
    assert closed == ["other"]


def test_a_runnable_of_langserve_is_left_without_its_finalizer() -> None:
    langserve = pytest.importorskip("langserve")
    runnable = langserve.RemoteRunnable("http://127.0.0.1:9/")
    registry = weakref.finalize._registry  # type: ignore[attr-defined]

    def finalizers() -> int:
        return sum(1 for info in registry.values() if info.weakref() is runnable)

    assert finalizers() == 1  # langserve's _close_clients, as the driver meets it
    runnable.sync_client.close()
    detach_finalizers(runnable)
    assert finalizers() == 0
