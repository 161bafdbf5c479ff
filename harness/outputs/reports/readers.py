"""Who reads what, as every report groups and compares it: the client columns grouped by
what their clients read, the framings each kind of client parses, and the stream each one
is compared with (its reference).

All of it is read from ``index.json``: ``run.clients`` (each client's kind and the codecs
it is restricted to) and ``run.streams`` (each variant's, or the app's, codec, content
type and framing), and the content types the clients were told, for an app whose content
type is known only once it answered. An index without them (an older one) has one group
of columns, mutes nothing, and compares every cell with a pass.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from streamcompat.harness.kernel.model import SERVER_MARK
from streamcompat.harness.outputs.reports.cells import Cell

#: The column groups, in their order: by the unit a client hands its user; a client
#: restricted to some codecs (an API's SDK) is an SDK whatever its unit.
GROUPS = {"chunk": "bytes", "line": "lines", "event": "SSE events"}
SDK = "SDK"
ORDER = (*GROUPS.values(), SDK)

#: The framings each kind of client parses. A line reader's lines are text too (it shows
#: one per line); an SSE parser reads events only.
PARSES = {
    "chunk": frozenset({"text"}),
    "line": frozenset({"text", "lines"}),
    "event": frozenset({"sse"}),
}

#: Per framing, the built-in variant whose verdicts are what a client of a kind that
#: parses it should get on every stream so framed: the plainest, spec-correct stream of
#: that framing. An SDK's reference is the run's first stream of its codec instead.
REFERENCES = {"text": "raw", "lines": "ndjson", "sse": "sse"}

FRAMING_WORDS = {"text": "plain text", "lines": "JSON lines", "sse": "SSE"}

#: One shared hint per kind of mismatch, keyed by (column group, framing met).
HINTS = {
    ("bytes", "sse"): "shown as it came: the SSE framing (data: lines, blank lines) with it",
    ("bytes", "lines"): "shown as it came: each line's JSON, not its token",
    ("lines", "sse"): "shown line by line: the SSE framing (data: lines) with it",
    ("SSE events", "text"): "no events in unframed text: refused for its content type, or silent",
    ("SSE events", "lines"): "no events in JSON lines: refused for its content type, or silent",
    (SDK, "codec"): "an SDK reads its own API's stream only: the request is not even made",
}


def framing_of(content_type: str) -> str:
    """The framing a content type announces ("": none known)."""
    media = content_type.partition(";")[0].strip().lower()
    if not media:
        return ""
    if media == "text/event-stream":
        return "sse"
    if media in ("application/x-ndjson", "application/ndjson", "application/jsonl"):
        return "lines"
    return "text"


@dataclass(frozen=True)
class Reader:
    """A client as the reports know it: its kind ("" unknown) and codecs (None: any)."""

    name: str
    kind: str = ""
    codecs: tuple[str, ...] | None = None

    @property
    def group(self) -> str:
        return SDK if self.codecs is not None else GROUPS.get(self.kind, "")


@dataclass(frozen=True)
class Stream:
    """A variant (or app) as the reports know it: its codec, and the framings a client
    may meet on it, first what it sends, then what its content type announces."""

    name: str
    codec: str = "text"
    framings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mismatch:
    """A client reading a framing it does not parse: what kind of mismatch, and its hint."""

    group: str
    met: str  # a framing, or "codec"

    @property
    def label(self) -> str:
        met = "another API's stream" if self.met == "codec" else FRAMING_WORDS[self.met]
        return f"{self.group or 'clients'} on {met}"

    @property
    def hint(self) -> str:
        return HINTS.get((self.group, self.met), "a framing these clients do not parse")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class Readers:
    """The run's clients and streams, from an index: grouping, muting and references."""

    def __init__(self, index: dict[str, Any], cells: list[Cell]) -> None:
        run = _dict(index.get("run"))
        self.clients: dict[str, Reader] = {}
        for name, record in _dict(run.get("clients")).items():
            record = _dict(record)
            codecs = record.get("codecs")
            self.clients[str(name)] = Reader(
                str(name),
                str(record.get("kind") or ""),
                tuple(map(str, codecs)) if isinstance(codecs, list) else None,
            )
        seen: dict[str, Counter[str]] = {}
        for c in cells:  # what the clients were told: an app's content type
            told = framing_of(str(c.get("content_type") or ""))
            if told:
                seen.setdefault(str(c.get("variant")), Counter())[told] += 1
        self.streams: dict[str, Stream] = {}
        for name, record in _dict(run.get("streams")).items():
            record = _dict(record)
            announced = framing_of(str(record.get("content_type") or ""))
            if not announced and str(name) in seen:
                announced = seen[str(name)].most_common(1)[0][0]
            sent = str(record.get("framing") or announced)
            framings = tuple(f for f in dict.fromkeys((sent, announced)) if f)
            self.streams[str(name)] = Stream(str(name), str(record.get("codec") or ""), framings)

    def reader(self, name: str) -> Reader:
        return self.clients.get(name) or Reader(name)

    def stream(self, name: str) -> Stream:
        """A variant's stream, by the variant's name or a report row's (``raw@hypercorn``:
        the variant under another server)."""
        variant = name.partition(SERVER_MARK)[0]
        return self.streams.get(variant) or Stream(variant)

    def columns(self, clients: list[str]) -> list[tuple[str, list[str]]]:
        """The clients grouped by what they read, in ``ORDER``, each group in run order;
        clients of no known kind last, in a group named ""."""
        groups: dict[str, list[str]] = {g: [] for g in (*ORDER, "")}
        for name in clients:
            groups[self.reader(name).group].append(name)
        return [(g, names) for g, names in groups.items() if names]

    def read_as(self, variant: str, client: str) -> str | None:
        """The framing ``client`` reads ``variant`` by; None: one it does not parse;
        "": not known (reads it, compared with a pass)."""
        reader, stream = self.reader(client), self.stream(variant)
        if reader.codecs is not None and stream.codec and stream.codec not in reader.codecs:
            return None
        if reader.kind not in PARSES or not stream.framings:
            return ""
        return next((f for f in stream.framings if f in PARSES[reader.kind]), None)

    def mismatch(self, variant: str, client: str) -> Mismatch | None:
        """The kind of mismatch of a client on a variant (None: it parses what it meets)."""
        if self.read_as(variant, client) is not None:
            return None
        reader, stream = self.reader(client), self.stream(variant)
        if reader.codecs is not None and stream.codec not in reader.codecs:
            return Mismatch(reader.group, "codec")
        return Mismatch(reader.group, stream.framings[0])

    def reference(self, variant: str, client: str) -> str:
        """The stream ``client``'s verdict on ``variant`` is compared with ("": none)."""
        framing = self.read_as(variant, client)
        reader = self.reader(client)
        if reader.codecs is not None:
            return next((s.name for s in self.streams.values() if s.codec in reader.codecs), "")
        return REFERENCES.get(framing or "", "")
