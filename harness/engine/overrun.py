"""Threads for blocking clients that are stopped when their run's deadline passes.

An asyncio client is cancelled at its deadline; a blocking one (requests, sseclient-py,
run with ``asyncio.to_thread``) would read on in its thread after its outcome was
recorded. On the spec corpus's 5 MiB line that is 14-18 s of CPU each (their line
buffers copy the growing line per read), holding the GIL against the rest of the run.

While a ``StoppableThreads`` is the loop's default executor, each call runs on a thread
of its own, noted under the calling task's ``Deadline`` (``deadline()``): ``stop()``
raises ``Overran`` in those threads at their next bytecode (CPython's
``PyThreadState_SetAsyncExc``); the client's ``with`` blocks close its response on the
way out.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["Deadline", "Overran", "StoppableThreads", "deadline"]

T = TypeVar("T")
#: A stopped thread that is blocked outside Python (a read) ends when the call returns:
#: shutdown waits this long for each (the clients' reads are bounded by their timeouts).
JOIN_BOUND_S = 15.0


class Overran(Exception):
    """Raised in a blocking client's thread: its run's deadline has passed."""


@dataclass
class Deadline:
    """The threads working for one run, and whether its deadline has passed."""

    threads: set[int] = field(default_factory=set)
    stopped: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def stop(self) -> int:
        """Raise ``Overran`` in every thread still working for the run; how many there were."""
        with self.lock:
            self.stopped = True
            for ident in self.threads:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(ident), ctypes.py_object(Overran)
                )
            return len(self.threads)

    def enter(self, ident: int) -> bool:
        with self.lock:
            if not self.stopped:
                self.threads.add(ident)
            return not self.stopped

    def leave(self, ident: int) -> None:
        with self.lock:  # a thread that left can no longer be stopped: its ident may be reused
            self.threads.discard(ident)


_CURRENT: ContextVar[Deadline | None] = ContextVar("streamcompat_deadline", default=None)


@contextlib.contextmanager
def deadline() -> Iterator[Deadline]:
    """The deadline of the blocking calls the current task (and tasks it starts) makes."""
    run = Deadline()
    token = _CURRENT.set(run)
    try:
        yield run
    finally:
        _CURRENT.reset(token)


class StoppableThreads(ThreadPoolExecutor):
    """A default executor whose calls run each on a thread of its own (not a pool's, so
    that an ``Overran`` that arrives late ends nothing but that call's thread)."""

    def __init__(self) -> None:
        super().__init__(thread_name_prefix="streamcompat-stoppable")
        self._live: set[threading.Thread] = set()
        self._live_lock = threading.Lock()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        run = _CURRENT.get()
        future: Future[T] = Future()

        def work() -> None:
            ident = threading.get_ident()
            try:
                if not future.set_running_or_notify_cancel():
                    return
                try:
                    if run is not None and not run.enter(ident):
                        raise Overran("its deadline passed before it started")
                    future.set_result(fn(*args, **kwargs))
                except BaseException as exc:  # the call's own failure, or Overran
                    future.set_exception(exc)
                finally:
                    if run is not None:
                        run.leave(ident)
            except Overran:
                pass  # it arrived as the call returned: the run's outcome is already recorded
            finally:
                with self._live_lock:
                    self._live.discard(threading.current_thread())

        thread = threading.Thread(target=work, name="streamcompat-stoppable", daemon=True)
        with self._live_lock:
            self._live.add(thread)
        thread.start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if wait:
            with self._live_lock:
                live = list(self._live)
            for thread in live:
                thread.join(JOIN_BOUND_S)
        super().shutdown(wait, cancel_futures=cancel_futures)
