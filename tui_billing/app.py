"""The Textual app: small on purpose. It owns the global keys, the header facts and failures.

Each screen lives in its own module under ``screens/``; switching with F2/F3/F4 uses Textual
modes, so every screen stays alive and keeps what was typed into it.

What screens can rely on (set before any screen mounts):

- ``app.db_path``: the database file; ``app.operator``: the clerk (OS user, or
  ``TUI_BILLING_OPERATOR``); ``app.posting_date``: the current open posting date (ISO text);
  ``app.practice``: the practice name. After a day close call :meth:`BillingApp.refresh_context`.
- Worker failures: every ``Worker.StateChanged`` bubbles up to :meth:`BillingApp.on_worker_state_changed`,
  the ONE place that turns a failed worker into a visible error notification. Screens run the
  database in ``@work(thread=True, exit_on_error=False)`` workers and need no handler of their own;
  a worker that catches :class:`BillingError` itself (to show it beside a field) never reaches it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from .screens.balancing import BalancingScreen
from .screens.charge_entry import ChargeEntryScreen
from .screens.help import HelpScreen
from .screens.receipts import ReceiptsScreen
from .store.errors import BillingError

# Worker state changes do not bubble by default; letting them reach the App gives the whole UI
# one failure handler instead of one per screen (no Textual internals handle this message).
Worker.StateChanged.bubble = True


class BillingApp(App[None]):
    """tui-billing's terminal UI."""

    CSS_PATH = "styles.tcss"
    TITLE = "tui-billing"
    ENABLE_COMMAND_PALETTE = True
    COMMAND_PALETTE_BINDING = "ctrl+p"
    MODES = {
        "charges": ChargeEntryScreen,
        "receipts": ReceiptsScreen,
        "balancing": BalancingScreen,
    }
    BINDINGS = [
        Binding("f1", "help", "Help", id="app.help"),
        Binding("f2", "switch_mode('charges')", "Charges", id="app.charges"),
        Binding("f3", "switch_mode('receipts')", "Receipts", id="app.receipts"),
        Binding("f4", "switch_mode('balancing')", "Balancing", id="app.balancing"),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True),
    ]

    def __init__(self, db_path: Path | None = None, *, operator: str | None = None) -> None:
        super().__init__()
        self.db_path = db_path
        self.operator = ""
        self.posting_date = ""
        self.practice = ""
        self._given_operator = operator
        self.refresh_context()

    def refresh_context(self) -> None:
        """Read the posting date, operator and practice (two indexed reads; also after a day close)."""
        from .store import lookups

        self.posting_date, self.operator = lookups.posting_context(self._given_operator)
        self.practice = lookups.practice_name()
        self.title = self.practice or "tui-billing"
        db = self.db_path.name if self.db_path else "?"
        self.sub_title = f"posting {self.posting_date} · {self.operator} · {db}"

    def on_mount(self) -> None:
        self.switch_mode("charges")

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place a failed worker becomes visible: an error notification that stays."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if isinstance(error, BillingError):
            message = error.message
        else:
            message = f"{type(error).__name__}: {error}. Nothing was lost that was saved; try again."
        self.notify(message, title=f"Failed: {event.worker.name or event.worker.group}", severity="error",
                    timeout=30, markup=False)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette offers the current screen's actions (its bindings) and the app's."""
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            b = active.binding
            # Screen and app actions only: an Input's "delete left" is not a command.
            if not isinstance(active.node, (Screen, App)) or not b.description or b.action in seen:
                continue
            seen.add(b.action)
            yield SystemCommand(f"{b.description} ({self.get_key_display(b)})", f"{b.description}",
                                lambda node=active.node, action=b.action: self.run_action(action, node))
        yield from super().get_system_commands(screen)
