"""F1: the keyboard map, the same one the README prints (a test keeps them in step)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

#: The keyboard contract (DESIGN.md), then the charge-entry keys. README's table is the same list.
KEYMAP: tuple[tuple[str, str], ...] = (
    ("F1", "this help (the keyboard map)"),
    ("F2", "charge entry"),
    ("F3", "receipts queue"),
    ("F4", "balancing dashboard"),
    ("Ctrl+P", "command palette (the current screen's actions)"),
    ("Ctrl+Q", "quit"),
    ("Enter / Tab", "next field (Enter skips empty diagnoses and modifiers)"),
    ("Shift+Tab", "previous field"),
    ("Ctrl+S", "save the form"),
    ("Esc", "leave a lookup, or clear the form (asks first if typed in)"),
    ("F6", "ditto: copy the previous entry's value into the focused field"),
    ("Up / Down", "move in a lookup's list; Enter takes the highlighted match"),
    ("F5", "charge entry: go to the batch's encounter list and back"),
    ("Ctrl+D", "charge entry: void the highlighted encounter (asks why)"),
    ("F8", "charge entry: open a new charge batch"),
    ("F9", "charge entry: close the batch (refused unless it balances)"),
)


def keymap_markdown() -> str:
    """The keyboard map as the README's Markdown table."""
    rows = ["| key | does |", "|---|---|"] + [f"| {k} | {what} |" for k, what in KEYMAP]
    return "\n".join(rows)


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
