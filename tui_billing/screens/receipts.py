"""Receipts queue (F3): every receipt with money still unapplied, oldest first, all operators'.

Keys (with the table focused): N new receipt (in a receipt batch), B new batch, C close the
batch, Enter distribute, R refund, Ctrl+D void, U all receipts / unapplied only, F5 reload.
The list is read a page at a time and reloaded when another clerk posts: the app's
``books_changed`` signal (its one watch of the books, store/live.py: LISTEN/NOTIFY on PostgreSQL,
``PRAGMA data_version`` on SQLite, waited for in a worker thread, off the event loop).
"""

from __future__ import annotations

import threading

from rich.text import Text
from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static

from ..store import operations as ops
from ..store import receipts_queries as q
from ..store.errors import BillingError
from ..store.validate import current_posting_date, operator
from ..widgets.app_header import AppHeader
from ..widgets.dialogs import BatchDialog, BatchFigures
from ..widgets.key_bar import KeyBar
from .base import BillingScreen
from .receipt_common import METHODS, FilterBar, cell, filter_inputs, money
from .receipt_dialogs import NewReceiptDialog, Posted, RefundDialog, VoidDialog

FILTER_DELAY = 0.15
COLUMNS = (("No.", 6, True), ("Received", 11, False), ("From", 21, False), ("Meth", 6, False),
           ("Reference", 10, False), ("Amount", 11, True), ("Unapplied", 11, True))


class ReceiptsScreen(FilterBar, BillingScreen[None]):
    """The receipts queue."""

    FILTER_TABLE = "rq-table"
    FILTER_LAST = "rq-operator"

    BINDINGS = [
        Binding("n", "new_receipt", "New", id="receipts.new"),
        Binding("b", "new_batch", "Batch", id="receipts.batch"),
        Binding("c", "close_batch", "Close batch", id="receipts.close_batch", show=False),
        Binding("r", "refund", "Refund", id="receipts.refund"),
        Binding("ctrl+d", "void", "Void", id="receipts.void"),
        Binding("u", "toggle_all", "All", id="receipts.all"),
        Binding("o", "toggle_order", "Order", id="receipts.order", show=False),
        Binding("f5", "reload", "Reload", id="receipts.reload", show=False),
        Binding("slash", "filters", "Filter", id="receipts.filter", show=False),
        Binding("escape", "to_table", "Table", show=False),
        # Synchronous Enter so type-ahead lands where Enter moved focus (see the distribute screen).
        Binding("enter", "enter_key", "Distribute", id="receipts.distribute", priority=True, key_display="⏎"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter = q.QueueFilter()
        self.rows: list[q.QueueRow] = []
        self.more = False
        self.batch_id: int | None = None
        #: whether the open batch has been looked up once (an account's P waits for it)
        self.batch_known = False
        self._filter_timer: Timer | None = None
        self._loading = False
        self._generation = 0  # bumped when the list is replaced: a late page for the old list is dropped
        # The first page is read while the screen is still being built, so the first paint
        # already has the rows (one paint instead of two when F3 is pressed the first time).
        self._prefetch_lock = threading.Lock()
        self._prefetched: tuple | None = None
        self._mounted = False
        self._prefetching = True
        #: the app's count of changes heard before the first read (compared once subscribed, see on_mount)
        self._books_version: int | None = None
        try:
            self._books_version = getattr(self.app, "books_version", None)
            self.app.run_worker(self._prefetch, thread=True, group="receipts-prefetch", exit_on_error=False)
        except RuntimeError:  # no running app (NoActiveAppError): the screen loads on mount instead
            self._prefetching = False

    def _prefetch(self) -> None:
        f = self.filter
        try:
            result: tuple | None = (f, q.queue_page(f, limit=q.PAGE + 1), q.queue_totals(f), None)
        except Exception:  # noqa: BLE001 - not swallowed: the screen's own worker retries and shows it
            result = None
        with self._prefetch_lock:
            if not self._mounted:
                self._prefetched = result if result is not None else ("retry",)
                return
        if result is None:
            self.app.call_from_thread(self.reload)
        else:
            self.app.call_from_thread(self._show, *result)

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield AppHeader("Receipts (F3)")
        with Horizontal(id="rq-filters"):
            yield from filter_inputs("rq", (("payer", "Payer", 8), ("patient", "Patient", 8), ("method", "Meth", 6),
                                            ("operator", "Oper", 8)))
        yield Static("", id="rq-batch", markup=False)
        table: DataTable = DataTable(id="rq-table", cursor_type="row", cell_padding=0)
        for label, width, right in COLUMNS:
            table.add_column(cell(label, right=right), width=width, key=label)
        yield table
        yield Static("", id="rq-totals", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        self.sub_title = "Receipts queue (F3)"
        self.set_focus(self.query_one("#rq-table", DataTable))
        with self._prefetch_lock:
            self._mounted = True
            ready, self._prefetched = self._prefetched, None
        if ready == ("retry",) or not self._prefetching:
            self.reload()  # no early read, or it failed: read again where a failure is shown
        elif ready is not None:
            self._show(*ready)
        self._find_batch()
        # live refresh: the app's one watch of the books (LISTEN/NOTIFY on PostgreSQL, data_version on SQLite)
        changed = getattr(self.app, "books_changed", None)
        if changed is not None:
            changed.subscribe(self, self._books_changed)
            now = getattr(self.app, "books_version", None)
            if self._books_version is not None and now != self._books_version:
                self._books_changed(now or 0)  # a commit landed between the first read and now

    # ------------------------------------------------------------------ loading

    def reload(self, keep: int | None = None) -> None:
        """Reload the first page and the totals, keeping the cursor on receipt ``keep`` if shown."""
        if keep is None:
            row = self.current()
            keep = row.receipt_id if row else None
        self._load(self.filter, keep)

    @work(thread=True, exclusive=True, group="queue", exit_on_error=False)
    def _load(self, f: q.QueueFilter, keep: int | None) -> None:
        rows = q.queue_page(f, limit=q.PAGE + 1)
        totals = q.queue_totals(f)
        self.app.call_from_thread(self._show, f, rows, totals, keep)

    def _show(self, f: q.QueueFilter, rows: list[q.QueueRow], totals: q.QueueTotals, keep: int | None) -> None:
        if f != self.filter:
            return
        self._generation += 1
        self.more = len(rows) > q.PAGE
        self.rows = rows[: q.PAGE]
        table = self.query_one("#rq-table", DataTable)
        table.clear()
        table.add_rows([self._cells(r) for r in self.rows])
        if keep is not None:
            for i, r in enumerate(self.rows):
                if r.receipt_id == keep:
                    table.move_cursor(row=i)
                    break
        plural = "" if totals.count == 1 else "s"
        what = (f"receipt{plural} (all, newest first)" if f.everything else
                f"open receipt{plural}{', newest first' if f.newest_first else ''}")
        self.query_one("#rq-totals", Static).update(
            f"{totals.count} {what} · amount {money(totals.amount)} · unapplied {money(totals.unapplied)}"
            + (" · more below" if self.more else ""))
        self._loading = False
        self._list_shown()

    def _cells(self, r: q.QueueRow) -> list[Text]:
        style = "strike" if r.voided else ""
        return [cell(str(r.receipt_id), right=True, style=style), cell(r.received_date, style=style),
                cell(r.from_label, style=style), cell(r.method, style=style), cell(r.reference, style=style),
                cell(money(r.amount), right=True, style=style),
                # said in words too: strike-through does not show on every office terminal
                cell("voided" if r.voided else money(r.unapplied), right=True, style=style)]

    @on(DataTable.RowHighlighted, "#rq-table")
    def _near_end(self, event: DataTable.RowHighlighted) -> None:
        if self.more and not self._loading and event.cursor_row >= len(self.rows) - 5:
            self._loading = True
            self._more(self.filter, q.queue_keyset(self.rows[-1], self.filter), self._generation)

    @work(thread=True, exclusive=True, group="queue-more", exit_on_error=False)
    def _more(self, f: q.QueueFilter, after: tuple, generation: int) -> None:
        rows = q.queue_page(f, after=after, limit=q.PAGE + 1)
        self.app.call_from_thread(self._append, f, rows, generation)

    def _append(self, f: q.QueueFilter, rows: list[q.QueueRow], generation: int) -> None:
        self._loading = False
        if f != self.filter or generation != self._generation:
            return
        self.more = len(rows) > q.PAGE
        rows = rows[: q.PAGE]
        self.rows.extend(rows)
        self.query_one("#rq-table", DataTable).add_rows([self._cells(r) for r in rows])

    def _books_changed(self, _version: int) -> None:
        """Another connection (or this app) committed: read the list and the open batch again."""
        self.reload()
        self._find_batch()

    # ------------------------------------------------------------------ batch

    @work(thread=True, exclusive=True, group="batch", exit_on_error=False)
    def _find_batch(self) -> None:
        batch = self.batch_id
        if batch is None:
            open_ = q.open_receipt_batches(operator(), current_posting_date())
            batch = open_[-1][0] if open_ else None
        status = ops.batch_status(batch) if batch is not None else None
        self.app.call_from_thread(self._show_batch, status)

    def _show_batch(self, status: ops.BatchStatus | None) -> None:
        self.batch_known = True
        box = self.query_one("#rq-batch", Static)
        if status is None or status.closed:
            self.batch_id = None
            box.update("No receipt batch open: B opens one (count and total from the tape).")
            return
        self.batch_id = status.id
        state = "balanced" if status.balanced else (
            f"off {status.count_difference:+d} / {money(status.total_difference)}")
        box.update(f"Batch {status.id} {status.posting_date}: {status.entered_count} of {status.control_count} "
                   f"· {money(status.entered_total)} of {money(status.control_total)} {state} · C close")

    def action_new_batch(self, then_receipt: bool = False, note: str = "") -> None:
        """The kit's batch dialog (the same as charge entry's); the batch is opened here."""

        def answer(figures: BatchFigures | None) -> None:
            if figures is not None:
                self._open_batch(figures, then_receipt)

        self.app.push_screen(BatchDialog("receipt", self.billing.posting_date, note), answer)

    @work(thread=True, exclusive=True, group="post", exit_on_error=False)
    def _open_batch(self, figures: BatchFigures, then_receipt: bool) -> None:
        try:
            bid = ops.open_batch("receipt", figures.count, figures.total)
        except BillingError as exc:
            self.app.call_from_thread(self.action_new_batch, then_receipt, f"Not opened: {exc.message}")
            return
        self.app.call_from_thread(self._after_batch, Posted(
            f"Receipt batch {bid} opened: {figures.count} for {money(figures.total)}", batch_id=bid), then_receipt)

    def _after_batch(self, result: Posted | None, then_receipt: bool = False) -> None:
        if result is not None:
            self.batch_id = result.batch_id
            self.notify(result.message, markup=False)
            self._find_batch()
            if then_receipt:
                self.app.push_screen(NewReceiptDialog(result.batch_id), self._after_post)

    def action_close_batch(self) -> None:
        if self.batch_id is None:
            self.notify("No receipt batch is open.", severity="warning")
            return
        self._close_batch(self.batch_id)

    @work(thread=True, exclusive=True, group="post", exit_on_error=False)
    def _close_batch(self, batch_id: int) -> None:
        try:
            status = ops.close_batch(batch_id)
        except BillingError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error", timeout=8, markup=False)
            return
        self.app.call_from_thread(self.notify, f"Batch {status.id} closed: {status.entered_count} receipts, "
                                               f"{money(status.entered_total)}", markup=False)
        self.app.call_from_thread(self._find_batch)

    # ------------------------------------------------------------------ filters

    @on(Input.Changed, "#rq-filters Input")
    def _filter_typed(self, event: Input.Changed) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(FILTER_DELAY, self._apply_filter)

    def _apply_filter(self) -> bool:
        method = self.query_one("#rq-method", Input).value.strip().lower()
        matches = [m for m in METHODS if m.startswith(method)] if method else []
        self.filter = q.QueueFilter(
            payer=self.query_one("#rq-payer", Input).value, patient=self.query_one("#rq-patient", Input).value,
            method=matches[0] if len(matches) == 1 else (method if method else ""),
            operator=self.query_one("#rq-operator", Input).value, everything=self.filter.everything,
            newest_first=self.filter.newest_first)
        self.reload()
        return True

    def action_enter_key(self) -> None:
        focused = self.focused
        if isinstance(focused, DataTable):
            focused.call_later(self._distribute)  # after cursor keys typed ahead of Enter
        elif isinstance(focused, Input):
            self._filter_next(focused)
        else:
            raise SkipAction()

    def action_filters(self) -> None:
        self.set_focus(self.query_one("#rq-payer", Input))

    def action_to_table(self) -> None:
        self.set_focus(self.query_one("#rq-table", DataTable))

    def action_toggle_all(self) -> None:
        f = self.filter
        self.filter = q.QueueFilter(f.payer, f.patient, f.method, f.operator, not f.everything, f.newest_first)
        self.reload()

    def action_toggle_order(self) -> None:
        """O: the open queue newest received first, or oldest first again."""
        f = self.filter
        self.filter = q.QueueFilter(f.payer, f.patient, f.method, f.operator, f.everything, not f.newest_first)
        self.notify("Newest first" if self.filter.newest_first else "Oldest first", timeout=2)
        self.reload()

    def action_reload(self) -> None:
        self.reload()
        self._find_batch()

    # ------------------------------------------------------------------ actions on a receipt

    def current(self) -> q.QueueRow | None:
        table = self.query_one("#rq-table", DataTable)
        if not self.rows or table.cursor_row is None or not 0 <= table.cursor_row < len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def action_new_receipt(self) -> None:
        if self.batch_id is None:
            self.action_new_batch(then_receipt=True)
            return
        self.app.push_screen(NewReceiptDialog(self.batch_id), self._after_post)

    def _after_post(self, result: Posted | None) -> None:
        if result is None:
            return
        self.notify(result.message, markup=False, timeout=6)
        self.reload(keep=result.receipt_id)
        self._find_batch()

    def _distribute(self) -> None:
        row = self.current()
        if row is None:
            return
        if row.voided or row.unapplied <= 0:
            self.notify(f"Receipt {row.receipt_id} has nothing left to distribute.", severity="warning")
            return
        from .receipt_distribute import DistributeScreen

        self.app.push_screen(DistributeScreen(row), self._after_post)

    def action_refund(self) -> None:
        row = self.current()
        if row is None or row.voided or row.unapplied <= 0:
            self.notify("Choose a receipt with unapplied credit to refund.", severity="warning")
            return
        self.app.push_screen(RefundDialog(row), self._after_post)

    def action_void(self) -> None:
        row = self.current()
        if row is None or row.voided:
            self.notify("Choose a receipt that is not voided.", severity="warning")
            return
        self.app.push_screen(VoidDialog(row), self._after_post)
