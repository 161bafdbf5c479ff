"""``streamcompat list``: every variant, client, network and scenario, with what each does."""

from __future__ import annotations

import argparse

from streamcompat.harness.front import selection
from streamcompat.harness.front.availability import servers_unavailable
from streamcompat.harness.kernel.scenarios import DEFAULT_SCENARIOS, SCENARIOS
from streamcompat.harness.kernel.servers import DEFAULT_SERVER, SERVERS
from streamcompat.servers.plugins import BUILTIN, load_variants


def list_command(args: argparse.Namespace) -> int:
    variants = load_variants(selection.names(args.variants) or [BUILTIN])
    clients = selection.every_client()
    # One name column for every section, as wide as the longest name (plug-ins' included).
    every_name = [v.name for v in variants] + [c.name for c in clients]
    name_width = max(22, *map(len, every_name))
    print(f"variants ({len(variants)}):")
    for v in variants:
        print(f"  {v.name:<{name_width}} {v.content_type:<20} codec={v.codec:<11} {v.description}")
        _pitfalls(v.pitfalls, name_width)
    print(f"clients ({len(clients)}):")
    for c in clients:
        named = "" if c.by_default else " (when named)"
        print(f"  {c.name:<{name_width}} {c.group:<8} {c.kind:<6} {c.description}{named}")
    print(f"networks ({len(selection.NETWORK_DESCRIPTIONS)}):")
    for name, description in selection.NETWORK_DESCRIPTIONS.items():
        default = " (default)" if name in selection.DEFAULT_NETWORKS else ""
        print(f"  {name:<{name_width}} {description}{default}")
    for group, names in selection.NETWORK_GROUPS.items():
        print(f"  {group:<{name_width}} group: {', '.join(names)}; KIND:FILE for your own config")
    print(f"servers ({len(SERVERS)}):")
    missing = servers_unavailable(list(SERVERS))
    for s in SERVERS.values():
        default = " (default)" if s.name == DEFAULT_SERVER else ""
        absent = f" [skipped here: {missing[s.name]}]" if s.name in missing else ""
        print(f"  {s.name:<{name_width}} {s.interface:<8} {s.description}{default}{absent}")
        _pitfalls(tuple(s.known), name_width)
    print(f"scenarios ({len(SCENARIOS)}):")
    for scenario in SCENARIOS.values():
        default = " (default)" if scenario.name in DEFAULT_SCENARIOS else ""
        print(f"  {scenario.name:<{name_width}} {scenario.description}{default}")
    return 0


def _pitfalls(pitfalls: tuple[str, ...], name_width: int) -> None:
    """What a variant's or server's users report, each with its source, under its line."""
    for pitfall in pitfalls:
        print(f"  {'':<{name_width}} pitfall: {pitfall}")
