"""Small modal dialogs used by charge entry: open a batch, a void reason, a yes/no question.

Each is a ``ModalScreen[T]`` whose result comes back through ``push_screen(..., callback=...)``.
Keyboard only: Enter moves on / accepts, Esc cancels.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from ..money import MoneyError, format_cents
from ..widgets.money_input import MoneyInput

__all__ = ["BatchDialog", "ConfirmDialog", "ReasonDialog"]


#: The screen keys keep working over a dialog (a modal screen stops the app's own bindings):
#: the clerk can go to receipts without answering, and the dialog waits on charge entry.
SCREEN_KEYS = [
    Binding("f1", "app.help", "Help", show=False),
    Binding("f2", "app.switch_mode('charges')", "Charges", show=False),
    Binding("f3", "app.switch_mode('receipts')", "Receipts", show=False),
    Binding("f4", "app.switch_mode('balancing')", "Balancing", show=False),
]


class BatchDialog(ModalScreen["tuple[int, int] | None"]):
    """Ask for a new charge batch's control count and control total (from the paper stack)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "accept", "Open batch"), *SCREEN_KEYS]

    def __init__(self, posting_date: str, note: str = "") -> None:
        super().__init__()
        self.posting_date = posting_date
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"Open a charge batch for posting date {self.posting_date}", classes="title", markup=False)
            if self.note:
                yield Static(self.note, markup=False, classes="hint")
            with Horizontal(classes="dialog-row"):
                yield Static("Control count ", classes="dialog-label", markup=False)
                yield Input(id="control-count", restrict=r"[0-9]*", max_length=4, compact=True)
            with Horizontal(classes="dialog-row"):
                yield Static("Control total ", classes="dialog-label", markup=False)
                yield MoneyInput(id="control-total")
            yield Static("", id="dialog-error", markup=False)
            yield Static("Enter: next / open   Esc: not now", classes="hint", markup=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "control-count":
            self.query_one("#control-total").focus()
        else:
            self.action_accept()

    def action_accept(self) -> None:
        error = self.query_one("#dialog-error", Static)
        count_text = self.query_one("#control-count", Input).value.strip()
        if not count_text:
            error.update(Text("control count: how many encounters are in the stack?"))
            self.query_one("#control-count").focus()
            return
        try:
            total = self.query_one("#control-total", MoneyInput).cents()
        except MoneyError as exc:
            error.update(Text(f"control total: {exc}"))
            self.query_one("#control-total").focus()
            return
        self.dismiss((int(count_text), total))

    def action_cancel(self) -> None:
        self.dismiss(None)


class ReasonDialog(ModalScreen["str | None"]):
    """Ask why (a void reason). Enter accepts a non-empty reason; Esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="title", markup=False)
            yield Input(id="reason", placeholder="reason", max_length=200, compact=True)
            yield Static("", id="dialog-error", markup=False)
            yield Static("Enter: void   Esc: keep it", classes="hint", markup=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        reason = event.value.strip()
        if not reason:
            self.query_one("#dialog-error", Static).update(Text("a reason is required"))
            return
        self.dismiss(reason)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question: y or Enter says yes, n or Esc says no."""

    BINDINGS = [
        Binding("y,enter", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="title", markup=False)
            yield Static("y / Enter: yes    n / Esc: no", classes="hint", markup=False)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


def difference_text(count_diff: int, total_diff: int) -> str:
    """``+2 / -15.00`` style difference for a batch panel or refusal."""
    return f"{count_diff:+d} / {format_cents(total_diff)}"
