"""Remittances (835 ERA): see what posting a file would do, post it, and work the queue it leaves.

Type the 835 file's path and press Enter: the plan (a dry run: the same posting rolled back) shows
per claim and line what will be applied, adjusted (with the CARC), transferred, kept with the
payer, and why anything is an exception. Ctrl+S posts that file (one transaction), F5 reloads the
work queue (denials, exceptions, unapplied payments) below. Reached from the command palette
(Ctrl+P, "Remittances").

Every database call runs in a thread worker; a refusal (a file that does not balance, the same
file twice) is shown in the plan panel, as text, never as markup.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Input, Static

from ..claims.era import EraError
from ..store.errors import BillingError
from ..text import inert
from ..widgets.app_header import AppHeader
from ..widgets.key_bar import KeyBar
from .base import BillingScreen

QUEUE_COLUMNS = ("Item", "Kind", "Opened", "Claim", "Codes", "Amount", "Outcome", "Detail")


class RemittancesScreen(BillingScreen[None]):
    """Post an 835 after seeing its plan; the remittance work queue."""

    BINDINGS = [
        Binding("ctrl+s", "post", "Post", id="remittances.post"),
        Binding("f5", "reload", "Reload", id="remittances.reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        #: the file whose plan is shown (Ctrl+S posts exactly that one)
        self.planned: Path | None = None
        self.busy = False

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield Input(placeholder="835 file (Enter shows what posting it would do)", id="era-path")
        with VerticalScroll(id="era-plan-box"):
            yield Static("", id="era-plan")
        yield DataTable(id="era-queue", cursor_type="row", zebra_stripes=True)
        yield KeyBar()

    def on_mount(self) -> None:
        table = self.query_one("#era-queue", DataTable)
        table.add_columns(*QUEUE_COLUMNS)
        self.query_one("#era-path", Input).focus()
        self.action_reload()

    def _say(self, lines: list[str]) -> None:
        self.query_one("#era-plan", Static).update(Text("\n".join(inert(line) for line in lines)))

    # ------------------------------------------------------------------ the plan and the post

    @on(Input.Submitted, "#era-path")
    def plan_file(self, event: Input.Submitted) -> None:
        path = Path(event.value.strip()).expanduser()
        if not event.value.strip() or self.busy:
            return
        self.planned = None
        self.busy = True
        self._say([f"reading {path} ..."])
        self._run(path, dry_run=True)

    def action_post(self) -> None:
        if self.planned is None or self.busy:
            self.notify("Show a file's plan first (type its path, Enter)", severity="warning")
            return
        self.busy = True
        self._run(self.planned, dry_run=False)

    @work(thread=True, exclusive=True, group="era", exit_on_error=False)
    def _run(self, path: Path, *, dry_run: bool) -> None:
        from ..store import era as era_store

        try:
            result = era_store.import_era(path, dry_run=dry_run, operator=self.billing.operator or None)
            lines, ok = era_store.describe(result), True
        except (EraError, BillingError) as exc:
            lines, ok = [f"{path}: {exc}", "nothing was posted"], False
        except OSError as exc:
            lines, ok = [f"cannot read {path}: {exc.strerror}"], False
        self.app.call_from_thread(self._done, path, dry_run, ok, lines)

    def _done(self, path: Path, dry_run: bool, ok: bool, lines: list[str]) -> None:
        self.busy = False
        if dry_run and ok:
            self.planned = path
            lines = [*lines, "", "Ctrl+S posts this file."]
        elif not dry_run:
            self.planned = None
            if ok:
                self.notify(f"posted {path.name}")
                self.action_reload()
        self._say(lines)

    # ------------------------------------------------------------------ the work queue

    def action_reload(self) -> None:
        self._load_queue()

    @work(thread=True, exclusive=True, group="era-queue", exit_on_error=False)
    def _load_queue(self) -> None:
        from ..store import era as era_store

        items = era_store.work_queue()
        self.app.call_from_thread(self._show_queue, items)

    def _show_queue(self, items: list[dict[str, object]]) -> None:
        table = self.query_one("#era-queue", DataTable)
        table.clear()
        for item in items:
            amount = item["amount"]
            assert isinstance(amount, int)
            table.add_row(*(Text(inert(str(x))) for x in (
                item["item"], item["kind"], item["opened"], item["claim"], item["codes"],
                f"{amount / 100:,.2f}", item["outcome"], item["detail"])))
