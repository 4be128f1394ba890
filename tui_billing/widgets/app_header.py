"""AppHeader: the one-line header every screen can show: practice, posting date, operator, database.

Reads ``app.title`` and ``app.sub_title`` (set by BillingApp.refresh_context). One widget and no
clock, so it costs nothing per keystroke and little at start-up. Text, never markup.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

__all__ = ["AppHeader"]


class AppHeader(Static):
    """``Practice name   posting 2026-11-26 · clerk · office.db`` docked at the top."""

    DEFAULT_CSS = "AppHeader { dock: top; height: 1; width: 1fr; background: $primary; color: $text; }"

    def __init__(self, screen_name: str = "", **kwargs) -> None:
        super().__init__("", markup=False, **kwargs)
        self.screen_name = screen_name  # e.g. "Receipts (F3)": which screen this is, after the practice

    def on_mount(self) -> None:
        self.watch(self.app, "title", self._show, init=False)
        self.watch(self.app, "sub_title", self._show, init=False)
        self._show()

    def _show(self, *_: object) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f" {self.app.title}", style="bold")
        if self.screen_name:
            text.append(f" · {self.screen_name}", style="bold")
        text.append(f"   {self.app.sub_title}")
        self.update(text, layout=False)
