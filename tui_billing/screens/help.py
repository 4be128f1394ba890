"""F1: the keyboard map, the same one the README prints (a test keeps them in step)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
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
    ("F7", "accounts: find a patient (account, last,first, birth date or phone), the account, register and edit"),
    ("F12", "claims: the queues (ready, held, sent, rejected, follow-up, denied) and what is done with a claim"),
    ("Ctrl+P", "command palette (the current screen's actions)"),
    ("Ctrl+Q", "quit (asks first when something typed is not saved)"),
    ("Enter / Tab", "next field; Enter skips what is already right: an empty diagnosis or modifier, the "
                    "provider row carried over (Enter on the patient goes to the diagnoses), and a line "
                    "whose defaults are filled (Enter on its code goes to the next line)"),
    ("Shift+Tab", "previous field"),
    ("Ctrl+S", "save the form"),
    ("Esc", "leave a lookup, or clear the form (asks first if typed in)"),
    ("y / n", "answer a question; Enter and Esc say no to an irreversible step (clear, close, quit)"),
    ("F6", "ditto: copy the previous entry's value into the focused field"),
    ("Up / Down", "move in a lookup's list; Enter takes the highlighted match"),
    ("F5", "charges: the batch's encounter list and back (Enter on one: its detail); balancing: refresh"),
    ("Ctrl+D", "void (asks why): the highlighted encounter (F2), receipt or distribution (F3)"),
    ("Ctrl+O", "charges: correct the open batch's control figures (with a reason); 0 and 0 cancel an empty batch"),
    ("F8", "charges: open a new charge batch"),
    ("F9", "close: the charge batch (F2, only if it balances); the day shown (F4)"),
    ("F10", "balancing: close the month of the day shown"),
    ("Ctrl+G", "balancing: show another day (2026-11-26, 11/26, 1126, t, -3)"),
    ("N", "receipts: new receipt (asks for a receipt batch first if none is open)"),
    ("Enter on a receipt", "receipts: distribute it (A auto-applies oldest first)"),
    ("B / C", "receipts: open / close a receipt batch"),
    ("R", "receipts: refund from the receipt's unapplied credit"),
    ("U", "receipts: every receipt, not only those with money left"),
    ("O", "receipts: the queue newest received first (again: oldest first)"),
    ("/", "receipts and distribute: the filter line; Enter on a filled filter searches"),
    ("Ctrl+N", "accounts: register a new patient (from any field, the find box included)"),
    ("N / E / I / T", "accounts (ledger focused): new patient / edit / add insurance / add a note"),
    ("C / X / O", "accounts: correct a coverage / end one / swap primary and secondary"),
    ("A / H", "accounts: the record as of a date / its history (every version, by whom)"),
    ("S / R / P", "accounts: statement / the patient's receipts / take a payment (F3)"),
    ("M", "accounts: master data: payers, providers, the practice, fees, adjustment reasons"),
    ("Enter on a ledger line", "accounts: the encounter's history (charges, payments, adjustments, transfers)"),
    ("Ctrl+P Remittances", "835 ERA: type the file's path, Enter shows what posting it would do, Ctrl+S posts it, "
                           "F5 reloads the denials work queue"),
    ("1-6", "claims: ready / held / sent (awaiting acknowledgement) / rejected / follow-up (accepted, unpaid past "
            "N days; D sets N) / denied"),
    ("S / B / P / M", "claims: scrub what is posted and unbilled / build the 837P files / print CMS-1500 forms / "
                      "mark the claim's file sent"),
    ("C / V / J", "claims: correct (a new claim) / void / jump to where a held claim is fixed (account, payer, "
                  "provider, practice, fee)"),
    ("Enter on a claim", "claims: its lines (with their REF*6R control numbers) and every status it has had"),
)


def keymap_markdown() -> str:
    """The keyboard map as the README's Markdown table."""
    rows = ["| key | does |", "|---|---|"] + [f"| {k} | {what} |" for k, what in KEYMAP]
    return "\n".join(rows)


class HelpScreen(ModalScreen[None]):
    """The keyboard contract, shown over the current screen."""

    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        # A two-column grid so a long description wraps under itself, not under the keys.
        grid = Table.grid(padding=(0, 2))
        grid.add_column(no_wrap=True)
        grid.add_column()
        for key, what in KEYMAP:
            grid.add_row(Text(key), Text(what))
        with VerticalScroll(id="help-box"):
            yield Static("Keyboard map", classes="title", markup=False)
            yield Static(grid)
            yield Static("Esc or F1 closes this.", classes="hint", markup=False)

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
