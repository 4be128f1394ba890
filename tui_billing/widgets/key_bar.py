"""KeyBar: a one-line footer of the live bindings that never re-lays-out the screen.

Textual's Footer recomposes (mounts a dozen widgets and re-lays-out the whole screen) every time
focus moves between widgets with different bindings; on a 100-field form that happens on nearly
every Enter. This bar renders the same live bindings as one line of text and repaints only
itself, and only when the text changes.
"""

from __future__ import annotations

from rich.text import Text
from textual.screen import Screen
from textual.widgets import Static

__all__ = ["KeyBar"]


class KeyBar(Static):
    """The focused screen's shown bindings (screen ones first), fitted to the width."""

    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: 1; width: 1fr; background: $panel; color: $text-muted; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__("", markup=False, **kwargs)
        self._plain = ""

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.call_after_refresh(self._bindings_changed, self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def on_resize(self) -> None:
        self._bindings_changed(self.screen)

    def _bindings_changed(self, screen: Screen) -> None:
        items: list[tuple[str, str]] = []
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            b = active.binding
            if not b.show or not b.description or b.action in seen or not active.enabled:
                continue
            seen.add(b.action)
            items.append((self.app.get_key_display(b), b.description))
        text = Text(no_wrap=True, overflow="ellipsis")
        width = self.size.width or 80
        for key, what in items:
            piece = len(key) + len(what) + 3
            if text.cell_len + piece > width:
                continue  # drop what does not fit rather than cut a key in half
            text.append(f" {key}", style="bold")
            text.append(f" {what} ")
        if text.plain != self._plain:
            self._plain = text.plain
            self.update(text, layout=False)
