"""User text made inert before it reaches a terminal or a printer.

Names and references are checked at entry (control characters are refused), but a database
may hold older or hand-inserted text. On display, every control character (an ESC that would
drive the terminal, a bell, a form feed) and every bidirectional override becomes U+FFFD, so
what the clerk sees is what is stored, and the terminal never obeys it.
"""

from __future__ import annotations

__all__ = ["inert"]

# Bidirectional embeddings, overrides, isolates and marks can make text display as other text.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def inert(value: str) -> str:
    """``value`` with control and bidi-control characters replaced by U+FFFD."""
    if value.isprintable():
        return value
    import unicodedata  # only text that needs cleaning pays for the Unicode tables

    return "".join("\ufffd" if unicodedata.category(ch) == "Cc" or ch in BIDI_CONTROLS else ch for ch in value)
