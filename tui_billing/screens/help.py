"""F1: the keyboard map, the same one the README prints."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYMAP: tuple[tuple[str, str], ...] = (
    ("F1", "this help (the keyboard map)"),
    ("F2", "charge entry"),
    ("F3", "receipts queue"),
    ("F4", "balancing dashboard"),
    ("Ctrl+P", "command palette"),
    ("Ctrl+Q", "quit"),
    ("Enter / Tab", "next field"),
    ("Shift+Tab", "previous field"),
    ("Ctrl+S", "save the form"),
    ("Esc", "leave a lookup, or clear the form (asks first if something was typed)"),
    ("F6", "ditto: copy the previous entry's value into this field"),
)


class HelpScreen(ModalScreen[None]):
    """The keyboard contract, shown over the current screen."""

    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        width = max(len(k) for k, _ in KEYMAP)
        lines = [f"{k.ljust(width)}  {what}" for k, what in KEYMAP]
        with VerticalScroll(id="help-box"):
            yield Static("Keyboard map", classes="title", markup=False)
            yield Static("\n".join(lines), markup=False)
            yield Static("Esc or F1 closes this.", classes="hint", markup=False)

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
