"""Distribute a receipt (Enter on the queue): its money to the open charges it can pay.

The charge list is read a page at a time (keyset over the open-balance indexes) as the cursor
nears its end, so a payer with thousands of open lines never loads them all. What the clerk
types per line lives in ``self.edits`` keyed by charge id, so a filter can change under it.

Keys: Enter edit the highlighted line (Applied, Adj, Reason, Rest to patient; Enter moves on,
the last Enter keeps the line), Del clear the line, A auto-apply oldest first, / filters,
Ctrl+S post every line in one operation, Esc back (asks first if lines were entered).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rich.text import Text
from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import DataTable, Input, Label, Static

from ..store import operations as ops
from ..store import receipts_queries as q
from ..store.errors import BillingError
from ..text import inert
from ..widgets.app_header import AppHeader
from ..widgets.dialogs import ConfirmDialog
from ..widgets.key_bar import KeyBar
from ..widgets.store_error import field_path
from .base import BillingScreen
from .receipt_common import FilterBar, after_pending_keys, cell, filter_inputs, money, parse_money
from .receipt_dialogs import Posted

FILTER_DELAY = 0.15
MAX_LINES = 5000
# "Owes": who owes the line now (a payer's code, or "pt" for the patient), so patient money is
# never applied to an insurer's line by mistake.
COLUMNS = (("DOS", 11, False), ("Patient", 8, False), ("Owes", 5, False), ("Code", 6, False), ("Amount", 10, True),
           ("Balance", 10, True), ("Applied", 10, True), ("Adj", 9, True), ("Rsn", 7, False), ("X", 2, False))
EDIT_FIELDS = ("applied", "adjustment", "reason", "transfer")


def owes(c: q.OpenCharge) -> str:
    """Who owes the line now: the payer's code, or ``pt`` for the patient."""
    return c.payer_code if c.payer_id is not None else "pt"


@dataclass(frozen=True)
class LineEdit:
    """What the clerk typed for one charge."""

    charge: q.OpenCharge
    applied: int = 0
    adjustment: int = 0
    reason: str = ""
    transfer: bool = False

    @property
    def empty(self) -> bool:
        return not (self.applied or self.adjustment or self.transfer)


class DistributeScreen(FilterBar, BillingScreen[Posted | None]):
    """One receipt's distribution to charges."""

    FILTER_TABLE = "rd-table"
    FILTER_LAST = "rd-code"

    BINDINGS = [
        Binding("ctrl+s", "post", "Post", id="distribute.post", priority=True),
        Binding("a", "auto_apply", "Auto-apply", id="distribute.auto"),
        Binding("delete", "clear_line", "Clear line", id="distribute.clear"),
        Binding("slash", "filters", "Filter", id="distribute.filter"),
        Binding("escape", "leave", "Back", id="distribute.back"),
        # Enter is handled here, synchronously, rather than through the widgets' messages: a
        # clerk's type-ahead (keys already queued) must land in the field Enter moved to.
        Binding("enter", "enter_key", "Edit line", id="distribute.enter", priority=True, show=False),
    ]

    def __init__(self, receipt: q.QueueRow) -> None:
        super().__init__()
        self.receipt = receipt
        self.filter = q.ChargeFilter()
        self.rows: list[q.OpenCharge] = []
        self.more = False
        self.edits: dict[int, LineEdit] = {}
        self.reasons: dict[str, str] = {}
        self._editing: q.OpenCharge | None = None
        self._filter_timer: Timer | None = None
        self._loading = False
        self._generation = 0  # bumped when the list is replaced: a late page for the old list is dropped
        self._esc_armed = False
        self._busy = False
        self.last_reason = ""  # sticky: the adjustment reason of the last line kept offers itself again

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        r = self.receipt
        yield AppHeader("Distribute")
        yield Static(inert(f"Receipt {r.receipt_id} · {r.from_label} · {r.method} {r.reference} · {money(r.amount)}"),
                     id="rd-head", markup=False)
        yield Static("", id="rd-left", markup=False)
        with Horizontal(id="rd-filters"):
            yield from filter_inputs("rd", (("account", "Account", 9), ("dos", "DOS", 11), ("code", "Code", 7)))
            yield Static("", id="rd-count", markup=False)
        table: DataTable = DataTable(id="rd-table", cursor_type="row", cell_padding=0)
        for label, width, right in COLUMNS:
            table.add_column(cell(label, right=right), width=width, key=label)
        yield table
        with Horizontal(id="rd-edit"):
            for name, label, width in (("applied", "Applied", 10), ("adjustment", "Adj", 9), ("reason", "Rsn", 8),
                                       ("transfer", "Rest→pt", 3)):
                yield Label(label, markup=False)
                inp = Input(id=f"rd-{name}", compact=True, placeholder="y/n" if name == "transfer" else "")
                inp.styles.width = width
                inp.disabled = True
                yield inp
        yield Static("", id="rd-error", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        self.sub_title = "Distribute a receipt"
        self.set_focus(self.query_one("#rd-table", DataTable))
        self._show_left()
        self._load(self.filter)
        self._load_reasons()

    # ------------------------------------------------------------------ figures

    def applied_total(self, pending: LineEdit | None = None) -> int:
        """What the lines apply, counting the line being typed instead of its kept version."""
        total = sum(e.applied for cid, e in self.edits.items() if pending is None or cid != pending.charge.charge_id)
        return total + (pending.applied if pending is not None else 0)

    def left(self, pending: LineEdit | None = None) -> int:
        return self.receipt.unapplied - self.applied_total(pending)

    def _show_left(self, pending: LineEdit | None = None) -> None:
        left = self.left(pending)
        lines = sum(1 for e in self.edits.values() if not e.empty)
        adjusted = sum(e.adjustment for e in self.edits.values())
        text = Text(f"Left to distribute {money(left)}", style="bold" if left >= 0 else "bold reverse")
        text.append(f" of {money(self.receipt.unapplied)} · {lines} line(s) · adjusted {money(adjusted)}",
                    style="")
        if left > 0 and lines:
            text.append(" · the rest stays as credit")
        self.query_one("#rd-left", Static).update(text)

    # ------------------------------------------------------------------ loading

    @work(thread=True, exclusive=True, group="reasons", exit_on_error=False)
    def _load_reasons(self) -> None:
        reasons = {r.code: r.description for r in q.adjustment_reasons()}
        self.app.call_from_thread(setattr, self, "reasons", reasons)

    @work(thread=True, exclusive=True, group="charges", exit_on_error=False)
    def _load(self, f: q.ChargeFilter) -> None:
        rows = q.open_charges_for_receipt(self.receipt, f, limit=q.PAGE + 1)
        self.app.call_from_thread(self._show, f, rows)

    def _show(self, f: q.ChargeFilter, rows: list[q.OpenCharge]) -> None:
        if f != self.filter:
            return
        self._generation += 1
        self.more = len(rows) > q.PAGE
        self.rows = rows[: q.PAGE]
        table = self.query_one("#rd-table", DataTable)
        table.clear()
        for c in self.rows:
            table.add_row(*self._cells(c), key=str(c.charge_id))
        self.query_one("#rd-count", Static).update(
            f"{len(self.rows)}{'+' if self.more else ''} open" if self.rows else "no open charges")
        self._loading = False
        self._list_shown()

    @on(DataTable.RowHighlighted, "#rd-table")
    def _near_end(self, event: DataTable.RowHighlighted) -> None:
        if self.more and not self._loading and event.cursor_row >= len(self.rows) - 10:
            self._loading = True
            last = self.rows[-1]
            self._more(self.filter, (last.dos, last.charge_id), self._generation)

    @work(thread=True, exclusive=True, group="charges-more", exit_on_error=False)
    def _more(self, f: q.ChargeFilter, after: tuple[str, int], generation: int) -> None:
        rows = q.open_charges_for_receipt(self.receipt, f, after=after, limit=q.PAGE + 1)
        self.app.call_from_thread(self._append, f, rows, generation)

    def _append(self, f: q.ChargeFilter, rows: list[q.OpenCharge], generation: int) -> None:
        self._loading = False
        if f != self.filter or generation != self._generation:
            return
        self.more = len(rows) > q.PAGE
        rows = rows[: q.PAGE]
        self.rows.extend(rows)
        table = self.query_one("#rd-table", DataTable)
        for c in rows:
            table.add_row(*self._cells(c), key=str(c.charge_id))
        self.query_one("#rd-count", Static).update(f"{len(self.rows)}{'+' if self.more else ''} open")

    def _cells(self, c: q.OpenCharge) -> list[Text]:
        e = self.edits.get(c.charge_id)
        return [cell(c.dos), cell(f"{c.account} {c.patient_name}"), cell(owes(c)), cell(c.code),
                cell(money(c.amount), right=True),
                cell(money(c.balance), right=True), *self._edit_cells(e)]

    def _edit_cells(self, e: LineEdit | None) -> list[Text]:
        if e is None or e.empty:
            return [cell("", right=True), cell("", right=True), cell(""), cell("")]
        return [cell(money(e.applied) if e.applied else "", right=True, style="bold"),
                cell(money(e.adjustment) if e.adjustment else "", right=True, style="bold"),
                cell(e.reason), cell("y" if e.transfer else "")]

    def _refresh_line(self, charge_id: int) -> None:
        table = self.query_one("#rd-table", DataTable)
        key = str(charge_id)
        if key not in table.rows:
            return
        for (label, _, _), value in zip(COLUMNS[6:], self._edit_cells(self.edits.get(charge_id)), strict=False):
            table.update_cell(key, label, value)

    # ------------------------------------------------------------------ filters

    @on(Input.Changed, "#rd-filters Input")
    def _filter_typed(self, event: Input.Changed) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(FILTER_DELAY, self._apply_filter)

    def _apply_filter(self) -> bool:
        dos = self.query_one("#rd-dos", Input).value
        if not q.valid_dos_filter(dos):
            self.error("DOS filter: a date, month or year, like 2026-10-03, 2026-10 or 2026")
            return False
        self.error("")
        self.filter = q.ChargeFilter(self.query_one("#rd-account", Input).value, dos,
                                     self.query_one("#rd-code", Input).value)
        self._load(self.filter)
        return True

    def action_filters(self) -> None:
        self.set_focus(self.query_one("#rd-account", Input))

    # ------------------------------------------------------------------ editing a line

    def error(self, text: str) -> None:
        self.query_one("#rd-error", Static).update(text)

    def current(self) -> q.OpenCharge | None:
        table = self.query_one("#rd-table", DataTable)
        if not self.rows or not 0 <= table.cursor_row < len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def action_enter_key(self) -> None:
        """Enter: focus moves now (so type-ahead lands in the next field); reading what was typed
        waits on the old widget's own queue (so keys it has not handled yet are counted)."""
        focused = self.focused
        edit_ids = [f"rd-{n}" for n in EDIT_FIELDS]
        if isinstance(focused, DataTable):
            if self.rows:
                self._open_editor()
                focused.call_later(self._edit)
        elif isinstance(focused, Input) and focused.id in edit_ids:
            i = edit_ids.index(focused.id)
            target = self.query_one(f"#{edit_ids[i + 1]}", Input) if i + 1 < len(edit_ids) \
                else self.query_one("#rd-table", DataTable)
            self.set_focus(target)
            if i + 1 == len(edit_ids):
                # Keys typed ahead wait until the line is kept and the cursor is on the next one
                # (released by _line_next): the cursor never moves under the clerk's fingers.
                self.billing.hold_keys()
            after_pending_keys(list(self.query("#rd-edit Input")), self._line_next, focused)
        elif isinstance(focused, Input):
            self._filter_next(focused)
        else:
            raise SkipAction()

    def _open_editor(self) -> None:
        for name in EDIT_FIELDS:
            inp = self.query_one(f"#rd-{name}", Input)
            inp.disabled = False
            with inp.prevent(Input.Changed):
                inp.value = ""
        self.set_focus(self.query_one("#rd-applied", Input))

    def _edit(self) -> None:
        """Start editing the highlighted line (after any cursor keys typed ahead of Enter)."""
        charge = self.current()
        if charge is None:
            return
        self._editing = charge
        e = self.edits.get(charge.charge_id)
        if e is not None:
            values = {"applied": money(e.applied) if e.applied else "",
                      "adjustment": money(e.adjustment) if e.adjustment else "",
                      "reason": e.reason, "transfer": "y" if e.transfer else ""}
            for name in EDIT_FIELDS:
                inp = self.query_one(f"#rd-{name}", Input)
                with inp.prevent(Input.Changed):
                    inp.value = values[name]
        elif self.last_reason:
            inp = self.query_one("#rd-reason", Input)
            with inp.prevent(Input.Changed):
                inp.value = self.last_reason  # sticky; it only counts when an adjustment is typed
        self.error(f"Line: {charge.dos} {charge.account} {charge.code} owed by {owes(charge)} balance "
                   f"{money(charge.balance)} · Enter next · Esc cancel")
        self._line_typed()

    def _typed_line(self) -> tuple[LineEdit | None, str, str]:
        """The line as typed so far: (edit, error, field with the error)."""
        charge = self._editing
        assert charge is not None
        vals = {n: self.query_one(f"#rd-{n}", Input).value for n in EDIT_FIELDS}
        try:
            applied = parse_money(vals["applied"])
        except ValueError as exc:
            return None, f"Applied: {exc}", "applied"
        try:
            adjustment = parse_money(vals["adjustment"], allow_negative=True)
        except ValueError as exc:
            return None, f"Adj: {exc}", "adjustment"
        reason = vals["reason"].strip().upper() if adjustment else ""
        transfer = vals["transfer"].strip().lower() in ("y", "yes", "1", "x")
        edit = LineEdit(charge, applied, adjustment, reason, transfer)
        if applied + adjustment > charge.balance:
            return edit, (f"Refused: {money(applied + adjustment)} applied and adjusted is more than the "
                          f"balance {money(charge.balance)}"), "applied" if applied > charge.balance else "adjustment"
        if self.left(edit) < 0:
            return edit, (f"Refused: that is {money(-self.left(edit))} more than the receipt has left to "
                          f"distribute"), "applied"
        if adjustment and not reason:
            return edit, "An adjustment needs a reason (CO-45, PR-1, SMALL...)", "reason"
        if reason and self.reasons and reason not in self.reasons:
            return edit, f"{reason} is not an adjustment reason ({', '.join(list(self.reasons)[:6])}...)", "reason"
        if transfer and charge.payer_id is None:
            return edit, "The patient already owes this line; nothing to transfer", "transfer"
        return edit, "", ""

    @on(Input.Changed, "#rd-edit Input")
    def _line_typed(self, event: Input.Changed | None = None) -> None:
        if self._editing is None:
            return
        edit, problem, _ = self._typed_line()
        self._show_left(edit)
        if problem:
            self.error(problem)
        elif edit is not None:
            hint = self.reasons.get(edit.reason, "")
            after = self._editing.balance - edit.applied - edit.adjustment
            self.error(f"Balance after {money(after)}{' → patient' if edit.transfer and after else ''}"
                       f"{' · ' + edit.reason + ' ' + hint if hint else ''}")

    def _line_next(self, field: Input) -> None:
        last = (field.id or "") == f"rd-{EDIT_FIELDS[-1]}"
        try:
            self._line_next_now(field)
        finally:
            if last:
                self.billing.release_keys()

    def _line_next_now(self, field: Input) -> None:
        if self._editing is None:
            return
        name = (field.id or "").removeprefix("rd-")
        edit, problem, where = self._typed_line()
        if problem and EDIT_FIELDS.index(where) <= EDIT_FIELDS.index(name):
            self.error(problem)
            self.set_focus(self.query_one(f"#rd-{where}", Input))
            return
        if name != EDIT_FIELDS[-1]:
            return
        if problem or edit is None:
            self.error(problem)
            self.set_focus(self.query_one(f"#rd-{where or name}", Input))
            return
        if edit.applied and self.receipt.payer_id is None and edit.charge.payer_id is not None:
            # The patient's money on a line an insurer owes: usually a slip of the cursor. Ask.
            def answer(yes: bool | None) -> None:
                if yes:
                    self._keep(edit)
                else:
                    self.error(f"Not kept: {owes(edit.charge)} owes this line (Esc leaves it, or type 0 applied)")
                    self.set_focus(self.query_one("#rd-applied", Input))

            self.app.push_screen(ConfirmDialog(
                f"{edit.charge.code} on {edit.charge.dos} is owed by {edit.charge.payer_code} now. Apply the "
                f"patient's {money(edit.applied)} to it anyway?"), answer)
            return
        self._keep(edit)

    def _keep(self, edit: LineEdit) -> None:
        self._esc_armed = False
        cid = edit.charge.charge_id
        if edit.empty:
            self.edits.pop(cid, None)
        else:
            self.edits[cid] = edit
            if edit.reason:
                self.last_reason = edit.reason
        self._refresh_line(cid)
        self._end_edit()
        table = self.query_one("#rd-table", DataTable)
        if table.cursor_row < len(self.rows) - 1:
            table.move_cursor(row=table.cursor_row + 1)

    def _end_edit(self) -> None:
        self._editing = None
        for name in EDIT_FIELDS:
            inp = self.query_one(f"#rd-{name}", Input)
            with inp.prevent(Input.Changed):
                inp.value = ""
            inp.disabled = True
        self.error("")
        self._show_left()
        self.set_focus(self.query_one("#rd-table", DataTable))

    def action_clear_line(self) -> None:
        charge = self.current()
        if charge is not None and charge.charge_id in self.edits:
            del self.edits[charge.charge_id]
            self._refresh_line(charge.charge_id)
            self._show_left()

    def unsaved_work(self) -> str | None:
        """For Ctrl+Q: distribution lines entered and not posted, if any."""
        return "distribution lines not posted (F3)" if any(not e.empty for e in self.edits.values()) else None

    def action_leave(self) -> None:
        if self._editing is not None:
            self._end_edit()
            return
        if isinstance(self.focused, Input):
            self.set_focus(self.query_one("#rd-table", DataTable))
            return
        if any(not e.empty for e in self.edits.values()):
            def answer(yes: bool | None) -> None:
                if yes:
                    self.dismiss(None)

            self.app.push_screen(ConfirmDialog("Lines are entered but not posted. Discard them? (Ctrl+S posts)"),
                                 answer)
            return
        self.dismiss(None)

    # ------------------------------------------------------------------ auto-apply

    def action_auto_apply(self) -> None:
        if self._editing is not None:
            return
        if self.left() <= 0:
            self.error("Nothing left to distribute.")
            return
        self._auto(self.filter, self.left(), dict(self.edits))

    @work(thread=True, exclusive=True, group="auto", exit_on_error=False)
    def _auto(self, f: q.ChargeFilter, remaining: int, edits: dict[int, LineEdit]) -> None:
        """Oldest DOS first: fill each line's balance until the money runs out.

        A patient's payment goes to what the patient owes, not to lines still with a payer.
        """
        owes_only = self.receipt.source == "patient"
        plan: list[LineEdit] = []
        after = None
        while remaining > 0 and len(edits) + len(plan) < MAX_LINES:
            page = q.open_charges_for_receipt(self.receipt, f, after, limit=500, patient_owes_only=owes_only)
            for c in page:
                e = edits.get(c.charge_id, LineEdit(c))
                room = c.balance - e.applied - e.adjustment
                if room <= 0:
                    continue
                take = min(room, remaining)
                plan.append(replace(e, applied=e.applied + take))
                remaining -= take
                if remaining == 0:
                    break
            if len(page) < 500:
                break
            after = (page[-1].dos, page[-1].charge_id)
        self.app.call_from_thread(self._auto_done, plan)

    def _auto_done(self, plan: list[LineEdit]) -> None:
        for e in plan:
            self.edits[e.charge.charge_id] = e
            self._refresh_line(e.charge.charge_id)
        self._show_left()
        if plan:
            self.error(f"Auto-applied to {len(plan)} line(s), oldest first. Review, then Ctrl+S posts.")
        else:
            self.error("No open line to apply to" + (" that the patient owes." if self.receipt.source == "patient"
                                                      else "."))

    # ------------------------------------------------------------------ posting

    def action_post(self) -> None:
        after_pending_keys(list(self.query("#rd-edit Input")), self._post_now)

    def _post_now(self) -> None:
        if self._busy:
            return
        if self._editing is not None:
            edit, problem, _ = self._typed_line()
            if problem or edit is None:
                self.error(problem)
                return
            self._keep(edit)
        lines = [e for e in self.edits.values() if not e.empty]
        if not lines:
            self.error("Nothing to post: enter an amount on a line (Enter) or auto-apply (A).")
            return
        if self.left() < 0:
            self.error("Refused: the lines apply more than the receipt has left.")
            return
        self._busy = True
        self.error("Posting...")
        self._post(lines)

    @work(thread=True, exclusive=True, group="post", exit_on_error=False)
    def _post(self, lines: list[LineEdit]) -> None:
        dist = [ops.DistributionLine(e.charge.charge_id, e.applied, e.adjustment, e.reason or None, e.transfer)
                for e in lines]
        try:
            did = ops.distribute(self.receipt.receipt_id, dist)
        except BillingError as exc:
            fresh = q.queue_row(self.receipt.receipt_id)  # another clerk may have used it meanwhile
            self.app.call_from_thread(self._refused, exc, lines, fresh)
            return
        applied = sum(e.applied for e in lines)
        left = self.receipt.unapplied - applied
        self.app.call_from_thread(self.dismiss, Posted(
            f"Distribution {did}: applied {money(applied)} to {len(lines)} line(s) from receipt "
            f"{self.receipt.receipt_id}" + (f"; {money(left)} stays as credit" if left > 0 else ""),
            receipt_id=self.receipt.receipt_id))

    def _refused(self, exc: BillingError, lines: list[LineEdit], fresh: q.QueueRow | None = None) -> None:
        """Show the store's refusal on the line it names (e.g. another clerk got there first)."""
        self._busy = False
        if fresh is not None and fresh.unapplied != self.receipt.unapplied:
            self.receipt = fresh
            self._show_left()
            self.error(f"Refused: {exc}. Another clerk has just distributed or refunded this receipt; "
                       f"{money(fresh.unapplied)} is left. Adjust the lines or Esc.")
            return
        path = field_path(exc.field)
        if path is not None and path.name == "lines" and path.index is not None and path.index < len(lines):
            charge = lines[path.index].charge
            keys = [c.charge_id for c in self.rows]
            if charge.charge_id in keys:
                self.query_one("#rd-table", DataTable).move_cursor(row=keys.index(charge.charge_id))
            self.error(f"Refused on {charge.dos} {charge.account} {charge.code}: {exc}")
        else:
            self.error(f"Refused: {exc}")
