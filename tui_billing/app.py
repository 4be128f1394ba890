"""The Textual app: small on purpose. It owns the global keys and the three working screens.

Each screen lives in its own module under ``screens/``; switching with F2/F3/F4 uses Textual
modes, so every screen stays alive and keeps what was typed into it.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.binding import Binding

from .screens.balancing import BalancingScreen
from .screens.charge_entry import ChargeEntryScreen
from .screens.help import HelpScreen
from .screens.receipts import ReceiptsScreen


class BillingApp(App[None]):
    """tui-billing's terminal UI."""

    CSS_PATH = "styles.tcss"
    TITLE = "tui-billing"
    ENABLE_COMMAND_PALETTE = True
    MODES = {
        "charges": ChargeEntryScreen,
        "receipts": ReceiptsScreen,
        "balancing": BalancingScreen,
    }
    BINDINGS = [
        Binding("f1", "help", "Help", id="help"),
        Binding("f2", "switch_mode('charges')", "Charges", id="charges"),
        Binding("f3", "switch_mode('receipts')", "Receipts", id="receipts"),
        Binding("f4", "switch_mode('balancing')", "Balancing", id="balancing"),
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
    ]

    def __init__(self, db_path: Path | None = None) -> None:
        super().__init__()
        self.db_path = db_path

    def on_mount(self) -> None:
        self.switch_mode("charges")

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())
