"""The token script: what the fake model says, chosen to break clients.

Each token is what one ``on_llm_new_token`` call carries. The script exercises
leading spaces, multi-byte UTF-8 (2, 3 and 4 bytes), newlines inside tokens, a
token starting with ``:`` (an SSE comment if it lands at a line start), a token that
looks like an SSE field, JSON specials, and one long token (>= 64 KiB of UTF-8) that
no single read, line buffer or event can be assumed to hold.
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
