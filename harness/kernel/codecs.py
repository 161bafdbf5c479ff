"""Codecs: how the payloads a client surfaces map back to tokens.

A codec decodes one payload (a line or an event's data) into the text the user would
display. ``Display`` applies it unit by unit, the way the usual few lines of client
code would, so that the shown text can be compared with the tokens. Byte clients show
their chunks as they are: they know no framing.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from streamcompat.harness.kernel.model import UnitKind


class DecodeError(ValueError):
    """A payload the user's code could not decode (their code would raise here)."""


def _text(payload: str) -> str:
    return payload


def _json_field(key: str) -> Callable[[str], str]:
    def decode(payload: str) -> str:
        try:
            value = json.loads(payload)[key]
        except (ValueError, KeyError, TypeError) as exc:
            raise DecodeError(f"not a JSON object with {key!r}: {_clip(payload)}") from exc
        if not isinstance(value, str):
            raise DecodeError(f"{key!r} is not a string: {_clip(payload)}")
        return value

    return decode


def _json_string(payload: str) -> str:
    try:
        value = json.loads(payload)
    except ValueError as exc:
        raise DecodeError(f"not JSON: {_clip(payload)}") from exc
    if not isinstance(value, str):
        raise DecodeError(f"not a JSON string: {_clip(payload)}")
    return value


def _openai(payload: str) -> str:
    if payload.strip() == "[DONE]":  # the OpenAI stream's end sentinel, not content
        return ""
    try:
        choices = json.loads(payload)["choices"]
        # Azure's first chunk and include_usage's last one have no choices: no content.
        choice = choices[0] if choices else {}
        content = (choice.get("delta") or {}).get("content")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        # (AttributeError: a choice or a delta that is not an object.)
        raise DecodeError(f"not a chat.completion.chunk: {_clip(payload)}") from exc
    return content if isinstance(content, str) else ""


def _ai_ui(payload: str) -> str:
    """A part of the AI SDK's UI message stream: a ``text-delta`` shows its ``delta``; the
    parts around it (start, text-start, finish, ...) show nothing; an ``error`` part is
    the server's failure, which the SDK raises."""
    if payload.strip() == "[DONE]":  # the stream's end sentinel, as OpenAI's
        return ""
    try:
        part = json.loads(payload)
        kind = part["type"]
    except (ValueError, KeyError, TypeError) as exc:
        raise DecodeError(f"not a UI message stream part: {_clip(payload)}") from exc
    if not isinstance(kind, str):
        raise DecodeError(f"not a UI message stream part: {_clip(payload)}")
    if kind == "error":
        raise DecodeError(f"an error part: {_clip(str(part.get('errorText', '')))}")
    if kind != "text-delta":
        return ""
    delta = part.get("delta")
    if not isinstance(delta, str):
        raise DecodeError(f"a text-delta without a string delta: {_clip(payload)}")
    return delta


#: The codecs by name. A client restricted to some of them (``Client.codecs``) reads only
#: the variants that use those: ``langserve`` decodes as ``json`` does (langserve's
#: serializer writes a string chunk as a JSON string) but names the stream only
#: langserve's RemoteRunnable reads.
CODECS: dict[str, Callable[[str], str]] = {
    "text": _text,
    "json": _json_string,
    "openai": _openai,
    "ai-ui": _ai_ui,
    "langserve": _json_string,
}
#: What a usage error names as known.
KNOWN = ", ".join([*list(CODECS)[:2], "json:<key>", *list(CODECS)[2:]])


def codec(name: str) -> Callable[[str], str]:
    """The decoder for a codec name: one of ``CODECS``, or ``json:<key>``."""
    if name in CODECS:
        return CODECS[name]
    if name.startswith("json:") and len(name) > 5:
        return _json_field(name[5:])
    raise ValueError(f"unknown codec {name!r} (known: {KNOWN})")


def _clip(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


class Display:
    """The text a user of one client kind would see, fed one surfaced unit at a time."""

    def __init__(self, codec_name: str, kind: UnitKind) -> None:
        self.decode = codec(codec_name)
        self.structured = codec_name != "text"
        self.kind = kind
        self.units = 0

    def feed(self, payload: str) -> str:
        """Decode one unit and return the text it adds to the display."""
        self.units += 1
        if self.kind == "chunk":
            # A byte client's user shows what arrives; chunk boundaries are the network's,
            # so decoding each chunk would make the verdict depend on read alignment.
            return payload
        if self.kind == "line":
            if self.structured:
                # NDJSON readers skip blank lines; everything else must decode.
                return self.decode(payload) if payload.strip() else ""
            # A line reader removed the newline; the user prints one line per line.
            return payload if self.units == 1 else "\n" + payload
        return self.decode(payload)
