"""Charge entry's two panels: the batch's control-vs-entered line and the batch's encounter list."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from ..money import format_cents
from ..store.lookups import BatchEncounter, OpenBatch
from ..text import inert
from ..widgets.dialogs import difference_text
from ..widgets.slot import Slot

__all__ = ["BatchPanel", "EncounterList", "batch_line"]


def batch_line(batch: OpenBatch | None) -> str:
    """The batch panel's text: control against entered and the difference, live."""
    if batch is None:
        return "No open charge batch: F8 opens one (control count and total from the stack)"
    diff = difference_text(batch.count_difference, batch.total_difference)
    # Single spaces: with "^O fixes" it must fit 80 columns for totals in the thousands.
    return (f"Batch {batch.id} control {batch.control_count} / {format_cents(batch.control_total)}"
            f" entered {batch.entered_count} / {format_cents(batch.entered_total)} diff {diff}"
            + (" balanced" if batch.balanced else " ^O fixes"))


class BatchPanel(Slot):
    """One line: the open batch's figures, marked while it is off its control figures."""

    def show(self, batch: OpenBatch | None) -> None:
        self.update(Text(batch_line(batch)))
        self.set_class(batch is None or not batch.balanced, "-unbalanced")


class EncounterList(DataTable):
    """The batch's encounters, newest first (F5 reaches it; Ctrl+D voids the highlighted one)."""

    def __init__(self) -> None:
        super().__init__(id="encounters", cursor_type="row", zebra_stripes=False)
        self.rows_shown: list[BatchEncounter] = []

    def on_mount(self) -> None:
        self.add_columns("Enc", "Account", "Patient", "Prov", "DOS", "Ln", "Total", "")

    def fill(self, rows: list[BatchEncounter]) -> None:
        self.rows_shown = rows
        self.clear()
        for r in rows:
            status = "void" if r.voided else ("rev" if r.reverses_id else "")
            self.add_row(Text(str(r.id)), Text(inert(r.account)), Text(inert(r.patient_name[:22])),
                         Text(r.provider_code), Text(r.dos), Text(str(r.lines)),
                         Text(format_cents(r.total), justify="right"), Text(status), key=str(r.id))

    def highlighted(self) -> BatchEncounter | None:
        row = self.cursor_row
        return self.rows_shown[row] if 0 <= row < len(self.rows_shown) else None
