"""The form kit's dialogs, shared by every screen: batch figures, a reason, a yes/no question.

Each is a ``ModalScreen[T]`` whose result comes back through ``push_screen(..., callback=...)``;
they are keyboard only. Rules every screen gets from here:

- One batch dialog for charges and receipts (open a batch, correct its control figures):
  Enter moves to the next field and, on the last, accepts; Ctrl+S accepts from anywhere.
- An irreversible step asks with :class:`ConfirmDialog`, whose Enter means No unless the
  question says otherwise; ``y`` says yes, ``n`` or Esc no. The dialog leaves focus alone, so a
  "no" puts the cursor back where the clerk was.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from ..money import format_cents
from .fields import CountInput, MoneyInput, parse_amount, parse_count

__all__ = ["SCREEN_KEYS", "BatchDialog", "BatchFigures", "ConfirmDialog", "ReasonDialog", "difference_text"]


#: The screen keys keep working over a dialog (a modal screen stops the app's own bindings):
#: the clerk can go to another screen without answering, and the dialog waits where it was.
SCREEN_KEYS = [
    Binding("f1", "app.help", "Help", show=False),
    Binding("f2", "app.switch_mode('charges')", "Charges", show=False),
    Binding("f3", "app.switch_mode('receipts')", "Receipts", show=False),
    Binding("f4", "app.switch_mode('balancing')", "Balancing", show=False),
    Binding("f7", "app.switch_mode('accounts')", "Accounts", show=False),
    Binding("f12", "app.switch_mode('claims')", "Claims", show=False),
]


def difference_text(count_diff: int, total_diff: int) -> str:
    """``+2 / -15.00`` style difference for a batch panel or refusal."""
    return f"{count_diff:+d} / {format_cents(total_diff)}"


@dataclass(frozen=True)
class BatchFigures:
    """What the batch dialog read: control count and total (cents), and a reason when correcting."""

    count: int
    total: int
    reason: str = ""


class BatchDialog(ModalScreen["BatchFigures | None"]):
    """Control count and total for a charge or receipt batch: to open one, or to correct one."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "accept", "Accept", priority=True),
        Binding("enter", "enter_key", "Next", priority=True, show=False),
        *SCREEN_KEYS,
    ]

    def __init__(self, kind: str, posting_date: str, note: str = "", *, batch_id: int | None = None,
                 count: int | None = None, total: int | None = None) -> None:
        super().__init__()
        self.kind = kind
        self.posting_date = posting_date
        self.note = note
        self.batch_id = batch_id  # set: correcting that batch's figures (a reason is asked)
        self.count = count
        self.total = total

    @property
    def correcting(self) -> bool:
        return self.batch_id is not None

    def compose(self) -> ComposeResult:
        title = (f"Correct {self.kind} batch {self.batch_id}'s control figures" if self.correcting else
                 f"Open a {self.kind} batch for posting date {self.posting_date}")
        with Vertical(classes="dialog"):
            yield Static(title, classes="title", markup=False)
            if self.note:
                yield Static(self.note, markup=False, classes="hint")
            with Horizontal(classes="dialog-row"):
                yield Static("Control count ", classes="dialog-label", markup=False)
                yield CountInput("" if self.count is None else str(self.count), id="control-count",
                                 what="control count", placeholder="how many")
            with Horizontal(classes="dialog-row"):
                yield Static("Control total ", classes="dialog-label", markup=False)
                yield MoneyInput("" if self.total is None else format_cents(self.total), id="control-total",
                                 what="control total")
            if self.correcting:
                with Horizontal(classes="dialog-row"):
                    yield Static("Reason ", classes="dialog-label", markup=False)
                    yield Input(id="control-reason", max_length=200, compact=True, placeholder="what was wrong")
            yield Static("", id="dialog-error", markup=False)
            yield Static(f"Enter: next / {'correct' if self.correcting else 'open'}   Ctrl+S: accept   Esc: not now",
                         classes="hint", markup=False)

    def _inputs(self) -> list[Input]:
        return list(self.query(Input))

    def action_enter_key(self) -> None:
        inputs = self._inputs()
        focused = self.focused
        if isinstance(focused, Input) and focused in inputs and focused is not inputs[-1]:
            self.set_focus(inputs[inputs.index(focused) + 1])
        else:
            self.action_accept()

    def action_accept(self) -> None:
        """Read every field; one Ctrl+S says everything there is to fix, the cursor on the first."""
        problems: list[tuple[str, str]] = []
        count = total = 0
        try:
            count = parse_count(self.query_one("#control-count", Input).value, "control count")
        except ValueError as exc:
            problems.append(("control-count", str(exc)))
        try:
            total = parse_amount(self.query_one("#control-total", Input).value, "control total")
        except ValueError as exc:
            problems.append(("control-total", str(exc)))
        reason = ""
        if self.correcting:
            reason = self.query_one("#control-reason", Input).value.strip()
            if not reason:
                problems.append(("control-reason", "reason: say what was wrong with the figures"))
        if problems:
            self.query_one("#dialog-error", Static).update(Text("\n".join(message for _, message in problems)))
            self.set_focus(self.query_one(f"#{problems[0][0]}", Input))
            return
        self.dismiss(BatchFigures(count, total, reason))

    def action_cancel(self) -> None:
        self.dismiss(None)


class ReasonDialog(ModalScreen["str | None"]):
    """Ask why (a void reason). Enter accepts a non-empty reason; Esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, *, verb: str = "void", keep: str = "keep it") -> None:
        super().__init__()
        self.question = question
        self.verb = verb
        self.keep = keep

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="title", markup=False)
            yield Input(id="reason", placeholder="reason", max_length=200, compact=True)
            yield Static("", id="dialog-error", markup=False)
            yield Static(f"Enter: {self.verb}   Esc: {self.keep}", classes="hint", markup=False)

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
    """A yes/no question. ``y`` yes, ``n``/Esc no; Enter takes the default, which is No unless given."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
        Binding("enter", "default", "Default", show=False),
    ]

    def __init__(self, question: str, *, default: bool = False) -> None:
        super().__init__()
        self.question = question
        self.default = default

    def compose(self) -> ComposeResult:
        yes, no = ("y / Enter: yes", "n / Esc: no") if self.default else ("y: yes", "n / Esc / Enter: no")
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="title", markup=False)
            yield Static(f"{yes}    {no}", classes="hint", markup=False)

    def action_default(self) -> None:
        self.dismiss(self.default)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
