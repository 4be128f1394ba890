"""Charge entry's batch and encounter-list work: the part of the screen that is about the batch.

Opening, correcting (Ctrl+O), cancelling and closing (F9) the clerk's charge batch, following the
posting date after a day close, and the batch's encounter list (F5) with its detail (Enter) and void (Ctrl+D). The
screen (``charge_entry.py``) inherits this and owns the encounter form; every store call here runs
in a thread worker and comes back on the UI thread.
"""

from __future__ import annotations

from rich.text import Text
from textual import work

from ..money import format_cents
from ..store import batches as batch_ops
from ..store import lookups, operations
from ..store.errors import BillingError
from ..store.lookups import BatchEncounter, OpenBatch
from ..text import inert
from ..widgets.dialogs import BatchDialog, BatchFigures, ReasonDialog, difference_text
from ..widgets.slot import Slot
from .base import BillingScreen
from .charge_panels import BatchPanel, EncounterList

__all__ = ["BatchWork"]


class BatchWork(BillingScreen[None]):
    """The batch panel's and the encounter list's behaviour (charge entry inherits it)."""

    open_batch: OpenBatch | None
    encounters: list[BatchEncounter]
    asking_batch: bool
    _batch_note: str | None
    _table: EncounterList | None
    _posting_date: str

    def _focus_form(self) -> None:
        """Back to the first field of the form (the screen knows which)."""
        self.query_one("#patient").focus()

    def _msg(self, text: str, *, error: bool = False) -> None:
        msg = self.query_one("#msg", Slot)
        msg.update(Text(text))
        msg.set_class(error, "-error")

    @property
    def table(self) -> EncounterList | None:
        """The encounter list (None until mounted just after the first paint)."""
        return self._table

    def _mount_table(self) -> None:
        table = EncounterList()
        self._table = table
        self.mount(table, after=self.query_one("#encounters-slot"))
        self.call_after_refresh(self._fill_table)

    def _follow_posting_date(self) -> None:
        old, self._posting_date = self._posting_date, self.billing.posting_date
        self._msg(f"Posting date is now {self._posting_date} (day {old} is closed)")
        self._reload_batch(f"Posting date is now {self._posting_date}. Open a batch:")

    @work(thread=True, exclusive=True, group="charges-batch", exit_on_error=False)
    def _reload_batch(self, note: str) -> None:
        app = self.billing
        batch = lookups.open_charge_batch(app.operator, app.posting_date)
        rows = lookups.batch_encounters(batch.id) if batch else []
        app.call_from_thread(self._batch_reloaded, batch, rows, note)

    def _batch_reloaded(self, batch: OpenBatch | None, rows: list[BatchEncounter], note: str) -> None:
        self._show_batch(batch, rows)
        if batch is None:
            self._ask_batch(note)

    # ------------------------------------------------------------------ batch

    def _show_batch(self, batch: OpenBatch | None, rows: list[BatchEncounter] | None = None) -> None:
        self.open_batch = batch
        self.query_one("#batch-panel", BatchPanel).show(batch)
        if rows is not None:
            self.encounters = rows
            self._fill_table()

    def _fill_table(self) -> None:
        if self._table is not None and self._table.is_mounted:
            self._table.fill(self.encounters)

    def _ask_batch(self, note: str = "") -> None:
        if self.asking_batch:
            return
        if not self.is_current:
            # Another screen (F3/F4) is in front: ask when the clerk comes back to charge entry,
            # never over someone else's screen.
            self._batch_note = note
            return
        self.asking_batch = True
        self.app.push_screen(BatchDialog("charge", self.billing.posting_date, note), callback=self._batch_answer)

    def _batch_answer(self, answer: BatchFigures | None) -> None:
        self.asking_batch = False
        self._focus_form()
        if answer is None:
            self._msg("No batch open: F8 opens one before you save", error=True)
            return
        self._open_batch(answer.count, answer.total)

    @work(thread=True, exclusive=True, group="charges-batch", exit_on_error=False)
    def _open_batch(self, count: int, total: int) -> None:
        try:
            bid = operations.open_batch("charge", count, total, posting_date=self.billing.posting_date,
                                        operator=self.billing.operator)
        except BillingError as exc:
            self.app.call_from_thread(self._batch_refused, str(exc))
            return
        batch = lookups.batch_figures(bid)
        self.app.call_from_thread(self._show_batch, batch, [])
        self.app.call_from_thread(self._msg, f"Batch {bid} open")

    def _batch_refused(self, message: str) -> None:
        self._msg(message, error=True)
        self._ask_batch(message)

    def action_new_batch(self) -> None:
        if self.open_batch is not None:
            self._msg(f"Batch {self.open_batch.id} is still open: F9 closes it first", error=True)
            return
        self._ask_batch()

    def action_fix_batch(self) -> None:
        """Ctrl+O: correct the open batch's control figures (a typo from the stack), or cancel it if empty."""
        batch = self.open_batch
        if batch is None:
            self._msg("No open batch to fix (F8 opens one)", error=True)
            return
        if batch.entered_count == 0 and batch.entered_total == 0 and not self.encounters:
            note = "Nothing is entered yet: count 0 and total 0 cancel the batch."
        else:
            note = f"Entered so far: {batch.entered_count} / {format_cents(batch.entered_total)}"

        def answer(figures: BatchFigures | None) -> None:
            if figures is not None:
                self._fix_batch(batch.id, figures, cancel=(figures.count, figures.total) == (0, 0)
                                and batch.entered_count == 0 and not self.encounters)

        self.app.push_screen(BatchDialog("charge", batch.posting_date, note, batch_id=batch.id,
                                         count=batch.control_count, total=batch.control_total), callback=answer)

    @work(thread=True, exclusive=True, group="charges-batch", exit_on_error=False)
    def _fix_batch(self, batch_id: int, figures: BatchFigures, cancel: bool) -> None:
        try:
            if cancel:
                batch_ops.cancel_empty_batch(batch_id, figures.reason, operator=self.billing.operator)
            else:
                batch_ops.correct_control(batch_id, figures.count, figures.total, figures.reason,
                                          operator=self.billing.operator)
        except BillingError as exc:
            self.billing.call_from_thread(self._msg, f"Batch {batch_id} not changed: {exc.message}", error=True)
            return
        if cancel:
            self.billing.call_from_thread(self._batch_cancelled, batch_id)
            return
        figures_now = lookups.batch_figures(batch_id)
        self.billing.call_from_thread(self._show_batch, figures_now)
        self.billing.call_from_thread(self._msg, f"Batch {batch_id} control figures corrected")

    def _batch_cancelled(self, batch_id: int) -> None:
        self._show_batch(None, [])
        self._msg(f"Batch {batch_id} cancelled (it was empty)")
        self._ask_batch(f"Batch {batch_id} cancelled. Next batch:")

    def action_close_batch(self) -> None:
        if self.open_batch is None:
            self._msg("No open batch to close", error=True)
            return
        self._close_batch(self.open_batch.id)

    @work(thread=True, exclusive=True, group="charges-batch", exit_on_error=False)
    def _close_batch(self, batch_id: int) -> None:
        try:
            operations.close_batch(batch_id, operator=self.billing.operator)
        except BillingError as exc:
            figures = lookups.batch_figures(batch_id)
            if figures is not None and not figures.balanced:
                # The difference first: the message line is 60 columns at 80x24.
                message = (f"Batch {batch_id} does not balance, difference "
                           f"{difference_text(figures.count_difference, figures.total_difference)}: entered "
                           f"{figures.entered_count} / {format_cents(figures.entered_total)}, control "
                           f"{figures.control_count} / {format_cents(figures.control_total)}")
            else:
                message = str(exc)
            self.app.call_from_thread(self._msg, message, error=True)
            return
        self.app.call_from_thread(self._batch_closed, batch_id)

    def _batch_closed(self, batch_id: int) -> None:
        self._show_batch(None, [])
        self._msg(f"Batch {batch_id} closed in balance")
        self._ask_batch(f"Batch {batch_id} closed in balance. Next batch:")


    # ------------------------------------------------------------------ encounter list, void

    def action_toggle_list(self) -> None:
        table = self._table
        if table is None:
            return
        if table.has_focus:
            self._focus_form()
        else:
            table.focus()

    def open_encounter(self) -> None:
        """Enter on the list: the highlighted encounter's detail (the account screen's view)."""
        from .encounter_detail import EncounterDetail

        row = self._table.highlighted() if self._table is not None else None
        if row is not None:
            self.app.push_screen(EncounterDetail(row.id))

    def action_void(self) -> None:
        table = self._table
        if table is None or not table.has_focus or not self.encounters:
            self._msg("Ctrl+D voids the highlighted encounter in the list (F5 goes to the list)")
            return
        row = self.encounters[table.cursor_row] if 0 <= table.cursor_row < len(self.encounters) else None
        if row is None:
            return
        if row.voided or row.reverses_id:
            self._msg(f"Encounter {row.id} is {'already voided' if row.voided else 'a reversal'}", error=True)
            return

        def answer(reason: str | None) -> None:
            table.focus()
            if reason:
                self._void(row.id, reason)

        self.app.push_screen(ReasonDialog(f"Void encounter {row.id} ({inert(row.patient_name)}, "
                                          f"{format_cents(row.total)})? Why:"), callback=answer)

    @work(thread=True, exclusive=True, group="charges-void", exit_on_error=False)
    def _void(self, encounter_id: int, reason: str) -> None:
        try:
            new = operations.void("encounter", encounter_id, reason, posting_date=self.billing.posting_date,
                                  operator=self.billing.operator)
        except BillingError as exc:
            self.app.call_from_thread(self._msg, str(exc), error=True)
            return
        bid = self.open_batch.id if self.open_batch else None
        batch = lookups.batch_figures(bid) if bid else None
        rows = lookups.batch_encounters(bid) if bid else []
        self.app.call_from_thread(self._show_batch, batch, rows)
        self.app.call_from_thread(self._msg, f"Encounter {encounter_id} voided by reversal {new}")
