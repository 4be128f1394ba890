"""Dialogs of the balancing screen: the close confirmation (or the list of reasons it is refused)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class CloseConfirm(ModalScreen[bool]):
    """Repeats the totals and asks before a close; with ``problems`` it only says why it cannot close.

    A close cannot be undone, so it defaults to No (the kit's rule for irreversible steps):
    dismisses True only on Y; Enter, Esc or N say no.
    """

    BINDINGS = [
        Binding("escape,n,enter", "cancel", "Cancel", id="balancing.cancel"),
        Binding("y", "confirm", "Close it", id="balancing.confirm"),
    ]

    def __init__(self, title: str, lines: list[str], problems: list[str], key: str = "F9") -> None:
        super().__init__(id="close-confirm")
        self.key = key
        self.title_text = title
        self.lines = lines
        self.problems = problems

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="close-box"):
            yield Static(self.title_text, classes="title", markup=False)
            if self.problems:
                body = Text()
                for problem in self.problems:
                    body.append("✗ ", style="bold red")
                    body.append(problem + "\n")
                yield Static(body, id="close-problems")
                yield Static(f"Fix these, then press {self.key} again. Esc goes back.", classes="hint", markup=False)
            else:
                yield Static("\n".join(self.lines), id="close-lines", markup=False)
                yield Static("Y closes it (it cannot be reopened). N, Esc or Enter: not now.",
                             classes="hint", markup=False)

    def action_cancel(self) -> None:
        self.dismiss(False)

    def action_confirm(self) -> None:
        # A refused close has nothing to confirm: Enter just goes back.
        self.dismiss(not self.problems)
