"""The token script: what the fake model says, chosen to break clients.

Each token is what one ``on_llm_new_token`` call carries. The script exercises
leading spaces, multi-byte UTF-8 (2, 3 and 4 bytes), newlines inside tokens, a
token starting with ``:`` (an SSE comment if it lands at a line start), a token that
looks like an SSE field, JSON specials, and one long token (>= 64 KiB of UTF-8) that
no single read, line buffer or event can be assumed to hold.

``LIMIT_TOKENS`` (``streamcompat run --script limits``) goes further, where client
libraries have limits of their own: the line separators Unicode adds to
``str.splitlines()`` (U+2028, U+2029, U+0085: a parser built on it cuts lines where
the stream has none) and one token of 1 MiB on one line, far beyond aiohttp's 128 KiB
line limit and Go's 64 KiB ``bufio.Scanner``.
"""

from __future__ import annotations

# 16 characters, 21 bytes of UTF-8: repeated, it puts multi-byte sequences at
# every offset relative to any read size.
_LONG_UNIT = "long é 中文 token "
LONG_TOKEN = " " + _LONG_UNIT * 3200  # 67,201 bytes

DEFAULT_TOKENS: tuple[str, ...] = (
    "Hello",
    " world",
    ",",
    " café",
    " naïve",
    " 中文",
    " 🙂",
    " 𝄞",
    "\n",
    "Second line",
    "\n\n",
    "Paragraph",
    ":starts-with-colon",
    " data: looks like a field",
    ' "quoted"',
    " back\\slash",
    ' {"json": [1, 2]}',
    " tab\there",
    " ends with newline\n",
    "  two leading spaces",
    " event: not-an-event",
    LONG_TOKEN,
    " after",
    " the",
    " long",
    " one",
    " id: 7",
    " ",
    " multi\nline\ntoken",
    " Done.",
)

#: 1 MiB of text on one line (ASCII and 2-byte UTF-8, so reads still cut sequences).
HUGE_TOKEN = " " + ("huge é " * 149797)[: (1 << 20) - 1]

LIMIT_TOKENS: tuple[str, ...] = (
    "Lines",
    " split\u2028by a line separator",
    " and\u2029a paragraph separator",
    " and\u0085a next-line",
    ",",
    " then",
    " one",
    " huge",
    " token:",
    HUGE_TOKEN,
    " after",
    " it.",
)

#: A short script for ``--script think``: what matters is the wait before its first token.
THINK_TOKENS: tuple[str, ...] = ("After", " a long", " think:", " the", " answer.")

#: Token scripts by name (``--script``); each gated against its own baseline file.
SCRIPTS: dict[str, tuple[str, ...]] = {
    "default": DEFAULT_TOKENS,
    "limits": LIMIT_TOKENS,
    "think": THINK_TOKENS,
}
#: Their hold windows where they need a longer one than the default: an SSE client
#: surfaces a 1 MiB event only once it has parsed all of it, which may take a pure-Python
#: parser more than a second on a busy machine; that is slow, not held back.
HOLD_WINDOWS: dict[str, float] = {"limits": 10.0}
#: Seconds the model thinks before the first token, for scripts that think: past httpx's
#: default read timeout (5 s), well inside a proxy's (nginx: 60 s). Clients keep their
#: libraries' default timeouts (``Request.library_timeouts``); a stream that sends
#: heartbeats while the model thinks keeps them reading.
THINK_S: dict[str, float] = {"think": 6.0}
