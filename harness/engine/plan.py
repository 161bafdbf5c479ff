"""What a run is: its matrix (the cells, by name) and its settings (windows, deadline,
jobs, tokens). Data only; the runner plays it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from streamcompat.harness.engine.schedule import default_jobs
from streamcompat.harness.kernel.model import DEFAULT_SERVER, Cell, Client, Variant
from streamcompat.harness.kernel.servers import server
from streamcompat.harness.kernel.tokens import DEFAULT_TOKENS

__all__ = ["Matrix", "Settings"]


@dataclass(frozen=True)
class Settings:
    hold_window: float = 1.0  # how long token k may take to surface before it counts as held
    connect_window: float = 10.0  # how long the request may take to reach the server
    #: How long a response head may take once the request reached the server (and the
    #: model thought); a server that sends none by then ends the cell (TIMEOUT) long
    #: before its deadline.
    head_window: float = 5.0
    deadline: float = 30.0  # every cell has a verdict by then, whatever happens
    #: The model thinks this long before its first token; clients keep their libraries'
    #: default timeouts meanwhile (``Request.library_timeouts``).
    think: float = 0.0
    jobs: int = field(default_factory=default_jobs)  # cells working at once
    tokens: tuple[str, ...] = DEFAULT_TOKENS

    @property
    def head_wait(self) -> float:
        """How long a response head may take once the request reached the server: the
        head window, counted from the end of the model's think (a server may send its
        head only with the first token, as GZipMiddleware does)."""
        return self.head_window + self.think


@dataclass(frozen=True)
class Matrix:
    variants: Sequence[Variant]
    clients: Sequence[Client]
    networks: Sequence[str] = ("direct",)
    scenarios: Sequence[str] = ("stream",)
    #: The networks of the scenarios other than ``stream`` (None: ``networks``).
    scenario_networks: Sequence[str] | None = None
    #: The servers the variants run under (``kernel.servers``); a variant runs under those
    #: of its interfaces only (a Starlette response under no WSGI server), and not under
    #: those it names as its pitfalls' (``Variant.not_under``).
    servers: Sequence[str] = (DEFAULT_SERVER,)

    def cells(self) -> list[Cell]:
        def networks(scenario: str) -> Sequence[str]:
            if scenario == "stream" or self.scenario_networks is None:
                return self.networks
            return [n for n in self.networks if n in self.scenario_networks]

        return [
            Cell(v.name, c.name, n, s, r)
            for s in self.scenarios
            for n in networks(s)
            for r in self.servers
            for v in self.variants
            if server(r).interface in v.interfaces and r not in v.not_under
            for c in self.clients
        ]
