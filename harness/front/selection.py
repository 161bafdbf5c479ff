"""What a run is asked for: the variants, clients, networks and scenarios by name (from
flags, the config file, or the fixture's arguments), checked against what exists.

Both front ends select through here, so ``--clients python`` and ``clients="python"``
choose the same cells, and an unknown name is the same usage error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamcompat.harness.engine.app import App
from streamcompat.harness.engine.plan import Matrix
from streamcompat.harness.kernel.model import Client, Variant
from streamcompat.harness.kernel.networks import DEFAULT_NETWORKS as DEFAULT_NETWORKS
from streamcompat.harness.kernel.networks import NETWORK_GROUPS as NETWORK_GROUPS
from streamcompat.harness.kernel.networks import NETWORKS, network
from streamcompat.harness.kernel.scenarios import DEFAULT_SCENARIOS, SCENARIOS
from streamcompat.harness.kernel.servers import DEFAULT_SERVER, SERVERS, server
from streamcompat.servers.plugins import BUILTIN, load_variants

#: ``streamcompat run --server``'s help.
SERVER_HELP = (
    f"servers the variants run under, comma-separated, or 'all': {', '.join(SERVERS)} "
    f"(default: {DEFAULT_SERVER}, the variant server itself; the others' cells name their "
    "server: raw@hypercorn)"
)
#: The networks by name, with what each does (``kernel.networks``).
NETWORK_DESCRIPTIONS: dict[str, str] = {name: n.description for name, n in NETWORKS.items()}


class UsageError(Exception):
    """The run cannot be made as asked; the message says why, in one sentence."""


def names(value: str | Sequence[str]) -> list[str]:
    """``"a,b"`` or ``["a", "b,c"]`` (a flag given twice) as one list of names."""
    values = [value] if isinstance(value, str) else list(value)
    return [part.strip() for v in values for part in v.split(",") if part.strip()]


@dataclass(frozen=True)
class Request:
    """A run's selection as asked, names not yet checked. Empty means the default."""

    specs: tuple[str, ...] = (BUILTIN,)
    variants: tuple[str, ...] = ()  # names among the specs' variants (--variant, only=)
    clients: tuple[str, ...] = ()  # names or groups
    networks: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = ()
    servers: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        specs: Sequence[str] = (),
        *,
        variants: str | Sequence[str] = (),
        clients: str | Sequence[str] = (),
        networks: str | Sequence[str] = (),
        scenarios: str | Sequence[str] = (),
        servers: str | Sequence[str] = (),
    ) -> Request:
        return cls(
            tuple(specs) or (BUILTIN,),
            tuple(names(variants)),
            tuple(names(clients)),
            tuple(names(networks)),
            tuple(names(scenarios)),
            tuple(names(servers)),
        )

    @property
    def restricted(self) -> bool:
        """Variants, clients, networks or servers were named: the baseline's other cells
        are not this run's (scenarios are judged per baseline file: see ``gate.partial``)."""
        return bool(self.variants or self.clients or self.networks or self.servers)

    def select_clients(self) -> list[Client]:
        return select_clients(self.clients)

    def select_variants(self) -> list[Variant]:
        return select_variants(self.specs, self.variants)

    def select_networks(self) -> tuple[str, ...]:
        return select_networks(self.networks)

    def select_scenarios(self) -> tuple[str, ...]:
        return select_scenarios(self.scenarios)

    def select_servers(self) -> tuple[str, ...]:
        return select_servers(self.servers)

    def scenario_networks(self) -> tuple[str, ...] | None:
        """Where scenarios other than ``stream`` run: what a client does when it leaves,
        or a chain fails, is the client's and the server's (on split the 510 cells gave
        the same verdicts, measured, in more time), so ``direct`` unless networks were named."""
        return None if self.networks else ("direct",)


def every_client() -> tuple[Client, ...]:
    from streamcompat.clients import CLIENTS  # the clients' package: imported when needed

    return CLIENTS


def select_clients(wanted: Sequence[str]) -> list[Client]:
    """Clients by name, by group (``python``, ``browser``, ...) or by browser engine
    (``firefox``: every Firefox column); all when none is asked. A client not in the
    default run (``Client.by_default``) comes by its name or its engine's, not its group's."""
    every = every_client()
    if not wanted:
        return [c for c in every if c.by_default]
    chosen = [
        c
        for c in every
        if c.name in wanted or c.engine in wanted or (c.group in wanted and c.by_default)
    ]
    names = {c.name for c in every} | {c.group for c in every} | {c.engine for c in every}
    unknown = [w for w in wanted if w not in names - {""}]
    if unknown:
        raise UsageError(
            f"unknown client(s): {', '.join(unknown)}; known: {', '.join(c.name for c in every)}"
        )
    return chosen


def select_networks(wanted: Sequence[str]) -> tuple[str, ...]:
    """Networks by name, by group (``real``: the real proxies), or ``KIND:FILE`` (a real
    proxy on the user's config: the file must exist)."""
    expanded = [n for w in wanted for n in NETWORK_GROUPS.get(w, (w,))]
    own = [w for w in expanded if ":" in w]
    for name in own:
        try:
            record = network(name)
        except KeyError:
            kinds = ", ".join(n.name for n in NETWORKS.values() if n.proxy == n.name)
            raise UsageError(
                f"unknown network {name!r}: a config of your own is KIND:FILE, KIND one of {kinds}"
            ) from None
        if not Path(str(record.config)).is_file():
            raise UsageError(f"network {name}: no such file: {record.config}")
    return _select("network", expanded, (*NETWORK_DESCRIPTIONS, *own), DEFAULT_NETWORKS)


def select_scenarios(wanted: Sequence[str]) -> tuple[str, ...]:
    return _select("scenario", wanted, tuple(SCENARIOS), DEFAULT_SCENARIOS)


def select_servers(wanted: Sequence[str]) -> tuple[str, ...]:
    """Servers by name (``kernel.servers``), or ``all``; nothing: uvicorn, as ever."""
    return _select("server", wanted, tuple(SERVERS), (DEFAULT_SERVER,))


def _select(
    what: str, wanted: Sequence[str], known: tuple[str, ...], default: tuple[str, ...]
) -> tuple[str, ...]:
    """``wanted`` in its order, once each; ``all``: every one; nothing: the default."""
    if not wanted:
        return default
    if "all" in wanted:
        return known
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise UsageError(f"unknown {what}(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return tuple(dict.fromkeys(wanted))


def select_variants(specs: Sequence[str], wanted: Sequence[str]) -> list[Variant]:
    variants = load_variants(specs)
    unknown = [n for n in wanted if n not in {v.name for v in variants}]
    if unknown:
        raise UsageError(f"unknown variant(s): {', '.join(unknown)}")
    return [v for v in variants if not wanted or v.name in wanted]


def app_of(options: Any) -> App | None:
    """The app to gate, from ``streamcompat run``'s app-mode options (None: the variants'
    run); it stands where the variants would."""
    if not options.app:
        return None
    if options.variants or options.variant:
        raise UsageError("--app gates an app; --variants/--variant do not go with it")
    if getattr(options, "server", None):
        raise UsageError(
            "--app runs your app under the server its command starts; --server does not go with it"
        )
    return App(
        command=options.app,
        endpoint=options.endpoint,
        body=options.body,
        codec=options.codec,
        event=options.event,
        end_event=options.end_event,
        end_data=options.end_data,
        name=options.app_name,
        start_timeout=options.app_start_timeout,
        log=options.results / f"{options.app_name}.log",
    )


def cells_line(matrix: Matrix) -> str:
    """What a run will play: its cells, and the matrix's shape."""
    cells = matrix.cells()
    shape = f"{len(matrix.variants)} variants × {len(matrix.clients)} clients"
    if matrix.scenarios == ("stream",):
        shape += f" × {len(matrix.networks)} networks"
    else:  # each scenario with the networks it runs on
        on = {
            s: dict.fromkeys(c.network for c in cells if c.scenario == s) for s in matrix.scenarios
        }
        shape += "; " + "; ".join(f"{s} on {', '.join(n)}" for s, n in on.items())
    return f"{len(cells)} cells ({shape})" + "".join(f"; {n}" for n in not_run(matrix))


def not_run(matrix: Matrix) -> list[str]:
    """The variants some chosen server runs none of, and why: it speaks another interface,
    or the variant names it as a pitfall's (``Variant.not_under``)."""
    under: dict[tuple[str, str], list[str]] = {}
    for name in matrix.servers:
        interface = server(name).interface
        other = [v.name for v in matrix.variants if interface not in v.interfaces]
        if other:
            under.setdefault((", ".join(other), f"{interface} servers"), []).append(name)
        for v in matrix.variants:
            if name in v.not_under and interface in v.interfaces:
                under.setdefault((v.name, "its pitfalls say why: streamcompat list"), []).append(
                    name
                )
    return [f"{names} not under {', '.join(on)} ({why})" for (names, why), on in under.items()]
