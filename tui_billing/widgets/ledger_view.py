"""LedgerView: a read-only table that paints only the rows on screen.

A DataTable builds and measures every row it is given: an account of 500 charge lines took
longer to add to one (~0.4 s) than to read from the database (~10 ms). This widget keeps the
rows as plain cell tuples and renders the visible window only, so opening any account costs
one screenful. Up/Down/PgUp/PgDn/Home/End move the cursor; Enter posts :class:`Selected`.
Cells are plain text (never markup).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget

from ..text import inert

__all__ = ["LedgerView"]


class LedgerView(Widget, can_focus=True):
    """Rows of cells under a header line, with a cursor row; ``columns``: (label, width, right)."""

    DEFAULT_CSS = """
    LedgerView { height: 1fr; }
    LedgerView:focus { background-tint: $foreground 3%; }
    """
    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
        Binding("enter", "select", "Open", show=False),
    ]

    class Selected(Message):
        """Enter on a row: its index and key."""

        def __init__(self, view: LedgerView, index: int, key: str) -> None:
            super().__init__()
            self.view = view
            self.index = index
            self.key = key

        @property
        def control(self) -> LedgerView:
            return self.view

    def __init__(self, columns: Sequence[tuple[str, int, bool]], **kwargs) -> None:
        super().__init__(**kwargs)
        self.columns = list(columns)
        self.rows: list[tuple[str, ...]] = []
        self.keys: list[str] = []
        self.cursor = 0
        self.top = 0

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def set_rows(self, rows: Sequence[Sequence[str]], keys: Sequence[str], *, cursor: int | None = None) -> None:
        """Replace every row (cells already formatted); the cursor goes to ``cursor`` (default: last)."""
        self.rows = [tuple(r) for r in rows]
        self.keys = list(keys)
        self.cursor = max(0, len(self.rows) - 1 if cursor is None else min(cursor, len(self.rows) - 1))
        self.top = max(0, self.cursor - self._visible() + 1)
        self.refresh()

    def _visible(self) -> int:
        return max(1, self.size.height - 1)

    def _follow(self) -> None:
        visible = self._visible()
        if self.cursor < self.top:
            self.top = self.cursor
        elif self.cursor >= self.top + visible:
            self.top = self.cursor - visible + 1
        self.refresh()

    def action_move(self, step: int) -> None:
        if self.rows:
            self.cursor = max(0, min(len(self.rows) - 1, self.cursor + step))
            self._follow()

    def action_page(self, step: int) -> None:
        self.action_move(step * max(1, self._visible() - 1))

    def action_jump(self, index: int) -> None:
        if self.rows:
            self.cursor = index % len(self.rows)
            self._follow()

    def action_select(self) -> None:
        if self.rows:
            self.post_message(self.Selected(self, self.cursor, self.keys[self.cursor]))

    def on_resize(self) -> None:
        self.top = max(0, min(self.top, len(self.rows) - self._visible()))
        self._follow()

    def _line(self, cells: Sequence[str]) -> str:
        out = []
        for (_, width, right), cell in zip(self.columns, cells, strict=False):
            cell = inert(str(cell))[:width - 1]
            out.append((cell.rjust(width - 1) if right else cell.ljust(width - 1)) + " ")
        return "".join(out)

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="crop")
        head = self._line([label for label, _, _ in self.columns])
        if self.rows:
            where = f" {self.top + 1}-{min(len(self.rows), self.top + self._visible())} of {len(self.rows)}"
            head = head[: max(0, self.size.width - len(where))].ljust(self.size.width - len(where)) + where
        text.append(head, style="bold")
        for n in range(self.top, min(len(self.rows), self.top + self._visible())):
            text.append("\n")
            style = "reverse" if n == self.cursor and self.has_focus else "underline" if n == self.cursor else ""
            text.append(self._line(self.rows[n]), style=style)
        return text

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
