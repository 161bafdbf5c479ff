"""What every browser engine the harness drives shares: launched on first use, once,
however many cells ask at once; a launch that failed said to every cell after it without
trying again; always closed (``async with``). Chromium (``hosts.browser``), Firefox
(``hosts.firefox``) and WebKit (``hosts.webkit``) each say how they launch and close.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from streamcompat.harness.kernel.model import ClientFailed

if TYPE_CHECKING:
    from streamcompat.harness.hosts.browser import BrowserHub

E = TypeVar("E", bound="Engine")


class Engine:
    """A browser engine's life; subclasses define ``_launch``, ``close`` and its ``name``."""

    name = ""  # as the failure to start says it

    def __init__(self) -> None:
        self.version = ""  # once launched (``index.json``)
        self._hub: BrowserHub | None = None
        self._failure = ""
        self._launching = asyncio.Lock()

    async def __aenter__(self: E) -> E:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def pages_ahead(self, jobs: int) -> int:
        """Pages to open on each origin before the cells: one (a new one costs ~100 ms)."""
        return 1

    async def hub(self) -> BrowserHub:
        async with self._launching:  # one launch, however many cells ask at once
            if self._hub is not None:
                return self._hub
            if self._failure:
                raise ClientFailed(self._failure)
            try:
                self._hub = await self._launch()
            except Exception as exc:
                await self.close()
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                self._failure = self._cannot_start(reason)
                raise ClientFailed(self._failure) from exc
            return self._hub

    def _cannot_start(self, reason: str) -> str:
        """What every cell of the engine is told when it could not be started."""
        return f"{self.name} could not be started ({reason})"

    async def _launch(self) -> BrowserHub:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError
