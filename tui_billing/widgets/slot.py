"""Slot: a one-line, fixed-size text area (a field's description or message).

Updating it repaints only itself: a Static's update re-lays-out the whole screen by default, which
on a form of ~100 widgets is the most expensive thing a keystroke can do. Text is never markup.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

__all__ = ["Slot"]


class Slot(Static):
    """A fixed-size Static whose updates never trigger a layout (give it a fixed width and height)."""

    DEFAULT_CSS = "Slot { height: 1; overflow: hidden; text-wrap: nowrap; text-overflow: ellipsis; }"

    def __init__(self, text: str = "", **kwargs) -> None:
        kwargs["markup"] = False
        super().__init__(text, **kwargs)
        self._shown: str | None = text

    def update(self, content: object = "", *, layout: bool = False) -> None:
        plain = content.plain if isinstance(content, Text) else str(content)
        if plain == self._shown:
            return
        self._shown = plain
        super().update(Text(plain), layout=layout)
