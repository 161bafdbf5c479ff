"""Which of the chosen clients, variants and networks can run here, and why the others cannot.

A client whose program (``node``, ``curl``), browser engine (Firefox, WebKit) or npm packages this
machine lacks, a variant or client whose Python library is not installed, or a real proxy
whose binary is missing, is skipped with a notice: it is not run, and its baseline cells are neither
compared nor dropped (see ``gate``).
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from streamcompat.harness.hosts import firefox, webkit
from streamcompat.harness.hosts.proxies import PROXIES
from streamcompat.harness.kernel.model import Cell, Client, Variant
from streamcompat.harness.kernel.networks import network
from streamcompat.harness.kernel.servers import server

#: What to install for the libraries an app under test often pins itself.
EXTRAS_HINT = "pip install 'streamcompat[sse]'"
#: Why a browser engine cannot run here ("": it can), by ``Client.engine``. Chromium is
#: not asked: Playwright brings one, and a run without it says so in each cell.
ENGINES_MISSING = {"firefox": firefox.missing, "webkit": webkit.missing}
#: What to install for the servers and frameworks besides uvicorn.
SERVERS_HINT = "pip install 'streamcompat[servers]'"


@dataclass(frozen=True)
class Skipped:
    """The clients, variants and networks this environment cannot run, each with its reason."""

    clients: Mapping[str, str] = field(default_factory=dict)
    variants: Mapping[str, str] = field(default_factory=dict)
    networks: Mapping[str, str] = field(default_factory=dict)
    servers: Mapping[str, str] = field(default_factory=dict)

    @property
    def reasons(self) -> dict[str, str]:
        """By name, clients, variants, networks, servers: what index.json's ``skipped``
        holds."""
        return {**self.clients, **self.variants, **self.networks, **self.servers}

    def notices(self) -> list[tuple[str, str]]:
        """``(what, why)`` for each, ``what`` as a notice names it ("curl", "variant x")."""
        return [
            *self.clients.items(),
            *((f"variant {n}", w) for n, w in self.variants.items()),
            *((f"network {n}", w) for n, w in self.networks.items()),
            *((f"server {n}", w) for n, w in self.servers.items()),
        ]

    def covers(self, key: str) -> bool:
        """Whether the cell of ``key`` is of a skipped client or variant."""
        try:
            cell = Cell.from_key(key)
        except ValueError:
            return False  # not a cell's key: the comparison reports it as missing
        return (
            cell.client in self.clients
            or cell.variant in self.variants
            or cell.network in self.networks
            or cell.server in self.servers
        )


def available(
    clients: Sequence[Client],
    variants: Sequence[Variant],
    networks: Sequence[str] = (),
    servers: Sequence[str] = (),
) -> Skipped:
    """What of ``clients``, ``variants``, ``networks`` and ``servers`` cannot run here."""
    return Skipped(
        unavailable(clients),
        variants_unavailable(variants),
        networks_unavailable(networks),
        servers_unavailable(servers),
    )


def servers_unavailable(servers: Sequence[str]) -> dict[str, str]:
    """Servers whose package is not installed here, with what to install."""
    return {
        name: f"{', '.join(gone)} not installed ({SERVERS_HINT})"
        for name in servers
        if (gone := lacking(server(name).modules))
    }


def networks_unavailable(networks: Sequence[str]) -> dict[str, str]:
    """Real proxies whose binary this machine lacks, with the package that has it."""
    missing: dict[str, str] = {}
    for name in networks:
        kind = network(name).proxy
        if kind is not None and PROXIES[kind].binary() is None:
            proxy = PROXIES[kind]
            missing[name] = (
                f"{proxy.program} not installed (`apt-get install {proxy.package}` on "
                "Debian/Ubuntu, or `streamcompat setup`)"
            )
    return missing


def lacking(modules: Sequence[str]) -> list[str]:
    """The modules of ``modules`` that cannot be imported here."""
    return [m for m in modules if not _found(m)]


def _found(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # ``pkg.sub`` whose ``pkg`` is missing: find_spec imports it
        return False


def unavailable(clients: Sequence[Client]) -> dict[str, str]:
    """Clients whose programs or npm packages this machine lacks, with the reason."""
    from streamcompat.clients import npm  # the clients' package: imported when needed

    missing = {
        c.name: f"{', '.join(gone)} not installed"
        for c in clients
        if (gone := [x for x in c.requires if shutil.which(x) is None])
    }
    missing |= {
        c.name: why
        for c in clients
        if c.name not in missing and (why := ENGINES_MISSING.get(c.engine, str)())
    }
    missing |= {
        c.name: f"{', '.join(gone)} not installed ({EXTRAS_HINT})"
        for c in clients
        if c.name not in missing and (gone := lacking(c.modules))
    }
    wanting = [c for c in clients if c.npm and c.name not in missing]
    if wanting and npm.installed() is None:
        # First use outside a checkout: install them once, saying so.
        print(
            f"streamcompat: installing the clients' npm packages into {npm.cache_root()} "
            "(once; `streamcompat setup` does it ahead)",
            file=sys.stderr,
        )
        try:
            npm.install()
        except (npm.SetupFailed, OSError) as exc:
            missing |= {c.name: f"npm packages not installed ({exc})" for c in wanting}
    return missing


def variants_unavailable(variants: Sequence[Variant]) -> dict[str, str]:
    """Variants whose response needs a library this environment lacks, with the reason."""
    return {
        v.name: f"{', '.join(gone)} not installed ({EXTRAS_HINT})"
        for v in variants
        if (gone := lacking(v.modules))
    }
